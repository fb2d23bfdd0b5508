export type { CurvatureLayer, CurvatureModel, LayerStatistics, ParameterRef } from "./capture.ts";
