/**
 * KFAC/EKFAC for TensorFlow.js models: {@link TfjsCurvatureModel} adapts a tfjs-layers model's Dense
 * and Conv2D layers to `@ekfac-ts/ekfac`'s `CurvatureModel`, so `new Optimizer(ekfac(adapted, …), adapted)`
 * preconditions its gradients. tfjs is a peer dependency.
 *
 * @packageDocumentation
 */
export { type ClassifierOutput, TfjsCurvatureModel, type TfjsCurvatureOptions } from "./model.ts";
