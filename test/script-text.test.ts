// Script.asText('ir' | 'plan' | 'stablehlo') and planInfo().toString(): the stages as readable text.
import { Builder, DType, Script, Tensor } from '../lib';
import { xlaBuilt } from '../lib/xla';

afterEach(() => Builder._abortActive());

function script(): Script {
  const b = new Builder('text');
  b.start();
  const x = Tensor.input('x', [2, 3]);
  const w = Tensor.fromArray([1, 2, 3], [3]);
  b.addOutput('y', x.add(w).relu().sum(1, true));
  b.end();
  return b.build();
}

describe('Script.asText', () => {
  test("'ir' lists every value with its op, operands, named attributes and type", () => {
    const lines = script().asText('ir').trim().split('\n');
    expect(lines[0]).toMatch(/^\/\/ hodu IR v\d+, 5 values$/);
    expect(lines).toContain('%0 = input "x" : f32[2, 3]');
    expect(lines).toContain('%1 = constant #0 : f32[3]');
    expect(lines).toContain('%2 = add(%0, %1) : f32[2, 3]');
    expect(lines).toContain('%3 = relu(%2) : f32[2, 3]');
    expect(lines).toContain('%4 = sum(%3; keepdim=1, dims=1) : f32[2, 1]');
    expect(lines[lines.length - 1]).toBe('return y = %4');
    expect(script().asText()).toBe(script().asText('ir'));
  });

  test("'plan' has the statistics and one line per step, the same as String(planInfo())", () => {
    const s = script();
    const info = s.planInfo();
    const text = s.asText('plan');
    expect(text).toContain(`steps=${info.steps}`);
    expect(text).toContain(`arenaBytes=${info.arenaBytes}`);
    const stepLines = text.trim().split('\n').slice(1);
    expect(stepLines.length).toBe(info.kernels.length);
    info.kernels.forEach((k, i) => expect(stepLines[i].trim()).toBe(`${i}  ${k}`));
    expect(String(info)).toBe(text);
    expect(Object.keys(info)).not.toContain('toString');
  });

  (xlaBuilt() ? test : test.skip)("'stablehlo' is the module the XLA backend compiles", () => {
    const text = script().asText('stablehlo');
    expect(text).toContain('func.func');
    expect(text).toContain('stablehlo.add');
  });

  test('an unknown stage is INVALID_ARGUMENT', () => {
    let code: string | undefined;
    try {
      script().asText('bytes' as 'ir');
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe('INVALID_ARGUMENT');
    expect(DType.F32).toBe('f32');
  });
});
