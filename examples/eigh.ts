/**
 * The symmetric eigensolver with `@ekfac-ts/linalg` alone: A = V diag(λ) Vᵀ for a symmetric A
 * (Householder tridiagonalisation, then implicit QR or divide and conquer; Golub & Van Loan §8.3).
 * KFAC and EKFAC call it on their Kronecker factors; here it runs on a matrix whose spectrum we chose,
 * so the answer can be checked: the eigenvalues we put in, AV = VΛ, and VᵀV = I.
 *
 *   npx -y pnpm@12.4.2 example examples/eigh.ts [--smoke]
 */
import { eigh, eye, gemm, matmul, normFrobenius, Rng, sub, symmetricWithSpectrum } from "@ekfac-ts/linalg";

const n = process.argv.includes("--smoke") ? 40 : 300;
const rng = new Rng(7);

// Eigenvalues spread over six orders of magnitude, like a Kronecker factor's.
const chosen = Float64Array.from({ length: n }, (_, i) => 10 ** (-3 + (6 * i) / (n - 1)));
const a = symmetricWithSpectrum(chosen, rng); // Q diag(chosen) Qᵀ for a random orthogonal Q

const t0 = performance.now();
const { status, values, vectors } = eigh(a);
const ms = performance.now() - t0;
// Iterative numerics report non-convergence instead of returning a wrong answer silently.
if (status !== "success" || vectors === null) throw new Error(`eigh: ${status}`);

// AV − VΛ: scale column j of V by λ_j with a product by diag(λ).
const lambda = eye(n, "float64");
for (let j = 0; j < n; j++) lambda.data[j * n + j] = values[j] as number;
const residual = normFrobenius(sub(matmul(a, vectors), matmul(vectors, lambda))) / normFrobenius(a);
// VᵀV − I, with gemm's transpose flag instead of forming Vᵀ.
const gram = eye(n, "float64");
gemm(true, false, 1, vectors, vectors, -1, gram);
const orthogonality = normFrobenius(gram);
let worst = 0;
for (let i = 0; i < n; i++)
  worst = Math.max(worst, Math.abs((values[i] as number) - (chosen[i] as number)) / (chosen[i] as number));

console.log(`eigh of a ${n}×${n} symmetric matrix in ${ms.toFixed(1)} ms`);
console.log(`  smallest and largest eigenvalue: ${values[0]?.toExponential(6)}, ${values[n - 1]?.toExponential(6)}`);
console.log(`  ‖AV − VΛ‖_F / ‖A‖_F = ${residual.toExponential(2)}`);
console.log(`  ‖VᵀV − I‖_F         = ${orthogonality.toExponential(2)}`);
console.log(
  `  largest relative eigenvalue error = ${worst.toExponential(2)} (small eigenvalues are known to ‖A‖·ε, not to full relative accuracy)`,
);
if (!(residual < 1e-12 && orthogonality < 1e-12))
  throw new Error("eigh: not an eigendecomposition to float64 accuracy");
