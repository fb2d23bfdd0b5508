/**
 * Grid search with edge extension, shared by the `robust` suite and `pnpm experiment` (one home).
 *
 * Every point of the Cartesian product of the axes is evaluated (memoised by value, so a re-sweep
 * after an extension only trains the new points); when the best point sits on an axis's first or last
 * value, that axis grows by one value beyond the edge (÷ or × its factor) and the grid is swept again,
 * at most `extensions` times per axis. A factor of 1 marks a categorical axis (no edge to extend).
 * Non-finite losses (diverged runs) count as +∞. Ties keep the first point in sweep order.
 *
 * `known` points (an earlier search of the same deterministic training, read back) fill the memo, so
 * re-running a search with more extensions trains only the new points. Values are compared rounded
 * to 12 significant digits — the rounding every extension applies — so 0.01/3 read back from JSON
 * matches the 0.00333333333333 an extension computes.
 */

/** A grid value rounded to 12 significant digits (so that 0.1 × 3 is 0.3, not 0.30000000000000004). */
export function gridValue(v: number): number {
  return Number(v.toPrecision(12));
}

/**
 * Grid search over the axes (mutated: extensions are added to them), extending an axis whose best
 * value is on its edge (×/÷ `factor`). `evalAt` trains one setting; results are memoised by value.
 * `edge`: the axes whose best value is still on an edge after the extensions ran out.
 */
export function searchGrid<K extends string>(
  axes: Record<K, number[]>,
  factors: Record<K, number>,
  extensions: number,
  evalAt: (point: Record<K, number>) => number,
  known: readonly { point: Record<K, number>; loss: number }[] = [],
): { best: Record<K, number>; loss: number; tried: { point: Record<K, number>; loss: number }[]; edge: K[] } {
  const names = Object.keys(axes) as K[];
  // The edges are the smallest and largest values: sort each axis ascending (in place, as it is extended in place).
  for (const n of names) axes[n].sort((x, y) => x - y);
  const memo = new Map<string, number>();
  const tried: { point: Record<K, number>; loss: number }[] = [];
  const keyOf = (p: Record<K, number>) => names.map((n) => gridValue(p[n])).join("|");
  for (const k of known) memo.set(keyOf(k.point), Number.isFinite(k.loss) ? k.loss : Number.POSITIVE_INFINITY);
  const listed = new Set<string>();
  const run = (p: Record<K, number>): number => {
    const key = keyOf(p);
    let loss = memo.get(key);
    if (loss === undefined) {
      const raw = evalAt(p);
      loss = Number.isFinite(raw) ? raw : Number.POSITIVE_INFINITY;
      memo.set(key, loss);
    }
    // `tried` lists every point the sweeps visited once, read back or trained.
    if (!listed.has(key)) {
      listed.add(key);
      tried.push({ point: p, loss });
    }
    return loss;
  };
  const sweep = () => {
    let best: Record<K, number> | null = null;
    let bestLoss = Number.POSITIVE_INFINITY;
    const rec = (i: number, acc: Partial<Record<K, number>>) => {
      if (i === names.length) {
        const p = acc as Record<K, number>;
        const l = run(p);
        if (best === null || l < bestLoss) {
          best = p;
          bestLoss = l;
        }
        return;
      }
      const n = names[i] as K;
      for (const v of axes[n]) rec(i + 1, { ...acc, [n]: v });
    };
    rec(0, {});
    return { best: best as unknown as Record<K, number>, loss: bestLoss };
  };
  let result = sweep();
  const used: Record<string, number> = {};
  for (;;) {
    let extended = false;
    for (const n of names) {
      const values = axes[n];
      if (values.length < 2 || factors[n] === 1 || (used[n] ?? 0) >= extensions) continue;
      const v = result.best[n];
      if (v === values[0]) {
        values.unshift(gridValue(v / factors[n]));
        extended = true;
      } else if (v === values[values.length - 1]) {
        values.push(gridValue(v * factors[n]));
        extended = true;
      } else continue;
      used[n] = (used[n] ?? 0) + 1;
    }
    if (!extended) break;
    result = sweep();
  }
  // A factor of 1 marks a categorical axis (KL-clipping on/off): it has no edge to extend.
  const edge = names.filter((n) => {
    const values = axes[n];
    return (
      factors[n] !== 1 &&
      values.length > 1 &&
      (result.best[n] === values[0] || result.best[n] === values[values.length - 1])
    );
  });
  return { ...result, tried, edge };
}

/**
 * A profile search over two axes: for every value of the `outer` axis, the best value of the `inner`
 * axis by its own 1-D `searchGrid` (edges extended, at most `extensions` times); the outer axis is
 * extended (×/÷ its factor, at most `extensions` times) while the best profile sits on its edge.
 *
 * Why not one joint `searchGrid`: a joint sweep extends an axis only where the grid's single best point
 * is on its edge, so a second basin outside the starting rectangle — e.g. a small damping that wants a
 * learning rate 30× below the grid's, next to a large damping that is best inside it — is never
 * reached (measured: `pnpm bench robust`, packages/bench/README.md). A profile finds, for every outer
 * value, the inner value whose neighbours are both worse (or the last extension), at about the cost of
 * the joint sweep plus each row's own extensions. `edge` names the outer axis when the best outer value
 * is still on its edge, and the inner axis when the chosen row's best is.
 */
export function searchProfiles<O extends string, I extends string>(
  outer: { readonly name: O; readonly values: number[]; readonly factor: number },
  inner: { readonly name: I; readonly values: readonly number[]; readonly factor: number },
  extensions: number,
  evalAt: (point: Record<O | I, number>) => number,
  known: readonly { point: Record<O | I, number>; loss: number }[] = [],
): {
  best: Record<O | I, number>;
  loss: number;
  tried: { point: Record<O | I, number>; loss: number }[];
  edge: (O | I)[];
} {
  const tried: { point: Record<O | I, number>; loss: number }[] = [];
  const rows = new Map<number, { best: Record<O | I, number>; loss: number; innerEdge: boolean }>();
  const profile = (o: number) => {
    const key = gridValue(o);
    const done = rows.get(key);
    if (done !== undefined) return done;
    const mine = known
      .filter((k) => gridValue(k.point[outer.name]) === key)
      .map((k) => ({ point: { [inner.name]: k.point[inner.name] } as Record<I, number>, loss: k.loss }));
    const r = searchGrid(
      { [inner.name]: [...inner.values] } as Record<I, number[]>,
      { [inner.name]: inner.factor } as Record<I, number>,
      extensions,
      (p) => evalAt({ ...p, [outer.name]: o } as Record<O | I, number>),
      mine,
    );
    for (const t of r.tried)
      tried.push({ point: { ...t.point, [outer.name]: o } as Record<O | I, number>, loss: t.loss });
    const row = {
      best: { ...r.best, [outer.name]: o } as Record<O | I, number>,
      loss: r.loss,
      innerEdge: r.edge.length > 0,
    };
    rows.set(key, row);
    return row;
  };
  const values = outer.values;
  values.sort((x, y) => x - y);
  const bestRow = () => {
    let best: { o: number; row: ReturnType<typeof profile> } | null = null;
    // Ties keep the smallest outer value (the first in sweep order, as in searchGrid).
    for (const o of values) {
      const row = profile(o);
      if (best === null || row.loss < best.row.loss) best = { o, row };
    }
    return best as { o: number; row: ReturnType<typeof profile> };
  };
  let result = bestRow();
  for (let used = 0; used < extensions && values.length > 1; used++) {
    if (result.o === values[0]) values.unshift(gridValue(result.o / outer.factor));
    else if (result.o === values[values.length - 1]) values.push(gridValue(result.o * outer.factor));
    else break;
    result = bestRow();
  }
  const edge: (O | I)[] = [];
  if (values.length > 1 && (result.o === values[0] || result.o === values[values.length - 1])) edge.push(outer.name);
  if (result.row.innerEdge) edge.push(inner.name);
  return { best: result.row.best, loss: result.row.loss, tried, edge };
}

/** An axis `bracketFinalists` brackets: its ×/÷ factor and the coordinates a neighbour must share. */
export interface BracketAxis<K extends string> {
  readonly name: K;
  readonly factor: number;
  /** The other coordinates that define the axis's line through a point (e.g. η's line: the same ε and κ). */
  readonly along: readonly K[];
}

/**
 * Makes every finalist of a search interior: while one of the `count` lowest finite losses in `tried`
 * has, on some axis, no tried value below it (or none above it) among the points on its line through
 * it (the points sharing its `along` coordinates), the point one factor beyond is evaluated (÷ or ×
 * the axis's factor, on that line) and appended to `tried` (mutated), and the finalists are ranked
 * again. Stops when every finalist is bracketed on every axis, or after `maxNew` evaluations. A
 * neighbour that diverges (+∞) still brackets: the finalist is then the best on that side.
 *
 * Why: a search extends its axes around the seed-1 best only, but the baseline is chosen among the
 * finalists on every seed (the `robust` suite's `chooseOnSeeds`), so the chosen setting could be one
 * the search never looked beyond — six of them in packages/bench/README.md's robust tables before
 * 2026-12-04. With this rule no finalist, hence no chosen setting, is on an edge unless `maxNew` ran
 * out (the caller reports what is still on an edge). `null` coordinates (e.g. κ off) compare equal to
 * each other.
 *
 * Returns the number of points evaluated and `finalists`: every point that was among the `count` best
 * at the start of a round, ordered by loss — the caller runs all of them on every seed. Keeping the
 * first finalists matters: bracketing can add points that are better on the search's one seed only
 * (on the robust suite's default-init CNN, a flat ridge of tiny dampings: seed-1 losses 1.13–1.18,
 * five-seed means 1.42–1.62 ± 0.3–0.6), and without them the best five-seed setting (1.30 ± 0.08) had
 * dropped out of the finalists.
 */
export function bracketFinalists<K extends string>(
  tried: { point: Record<K, number | null>; loss: number }[],
  axes: readonly BracketAxis<K>[],
  count: number,
  maxNew: number,
  evalAt: (point: Record<K, number | null>) => number,
): { added: number; finalists: { point: Record<K, number | null>; loss: number }[] } {
  const same = (x: number | null, y: number | null) =>
    x === null || y === null ? x === y : gridValue(x) === gridValue(y);
  const known = (p: Record<K, number | null>) =>
    tried.some((t) => (Object.keys(p) as K[]).every((k) => same(t.point[k], p[k])));
  let added = 0;
  const ever = new Set<{ point: Record<K, number | null>; loss: number }>();
  const done = () => ({ added, finalists: [...ever].sort((x, y) => x.loss - y.loss) });
  for (;;) {
    const finalists = tried
      .filter((t) => Number.isFinite(t.loss))
      .sort((x, y) => x.loss - y.loss)
      .slice(0, Math.max(0, count));
    for (const f of finalists) ever.add(f);
    let extended = false;
    for (const f of finalists) {
      for (const axis of axes) {
        const v = f.point[axis.name];
        if (v === null) continue;
        const line = tried.filter((t) => axis.along.every((k) => same(t.point[k], f.point[k])));
        const values = line.map((t) => t.point[axis.name]).filter((x): x is number => x !== null);
        const beyond: number[] = [];
        if (!values.some((x) => gridValue(x) < gridValue(v))) beyond.push(gridValue(v / axis.factor));
        if (!values.some((x) => gridValue(x) > gridValue(v))) beyond.push(gridValue(v * axis.factor));
        for (const b of beyond) {
          const p = { ...f.point, [axis.name]: b } as Record<K, number | null>;
          if (known(p)) continue;
          if (added >= maxNew) return done();
          const raw = evalAt(p);
          tried.push({ point: p, loss: Number.isFinite(raw) ? raw : Number.POSITIVE_INFINITY });
          added++;
          extended = true;
        }
      }
    }
    if (!extended) return done();
  }
}
