import fc from "fast-check";

// Property depth and replay: FC_NUM_RUNS=2500 for a deeper run, FC_SEED=<n> to replay a failure.
const numRuns = Number(process.env.FC_NUM_RUNS ?? 100);
const seed = process.env.FC_SEED;
fc.configureGlobal({ numRuns, ...(seed !== undefined ? { seed: Number(seed) } : {}) });
