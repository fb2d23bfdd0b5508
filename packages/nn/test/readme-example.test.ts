import { expect, it, vi } from "vitest";

it("the README example runs, learns the toy problem and reloads its checkpoint", async () => {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((s: string) => {
    lines.push(s);
  });
  try {
    await import("./readme-example.ts");
  } finally {
    spy.mockRestore();
  }
  const loss = Number(/loss after 20 epochs: ([0-9.]+)/.exec(lines[0] ?? "")?.[1]);
  expect(loss).toBeLessThan(0.1); // ln 2 ≈ 0.69 at chance
  expect(lines[1]).toBe("0: dense 16×2, ā 96, g 512, true Fisher");
  expect(lines[3]).toMatch(new RegExp(`reloaded loss ${loss.toFixed(4)}$`));
});
