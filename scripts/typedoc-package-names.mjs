// TypeDoc plugin: names each entry point's module after the package that owns it (`@ekfac-ts/linalg`
// instead of TypeDoc's path-derived `linalg/src`), read from the nearest package.json. One rule for every
// package, so no index.ts needs a `@module` tag to appear under the name users import.
import { Converter, ReflectionKind } from "typedoc";

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const project = context.project;
    for (const module of project.getChildrenByKind(ReflectionKind.Module)) {
      const packageName = project.getSymbolIdFromReflection(module)?.packageName;
      if (packageName?.startsWith("@ekfac-ts/")) module.name = packageName;
    }
  });
}
