// Reverse-mode autograd. Every op on a tensor that requires grad records a GradNode on its output
// (through hooks.afterOp, in dynamic and in builder mode alike). backward() walks those nodes in
// reverse topological order and calls each op's VJP (./vjp.ts), which is written with ordinary
// tensor ops: in dynamic mode it computes, inside a Builder it records the gradient ops into the
// graph. The VJPs themselves run with recording off (no higher-order graph), so the tape holds
// only what the live outputs reference and is freed with them.
import { DType, isFloat } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { hooks } from '../hooks';
import { Tensor } from '../tensor';
import { VJP } from './vjp';

export interface GradNode {
  op: string;
  inputs: Tensor[];
  attrs: number[];
  /** Set once a backward() without retainGraph went through this node. */
  freed?: boolean;
}

let enabled = true;

/** Runs fn without recording gradients (like torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const saved = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = saved;
  }
}

export function isGradEnabled(): boolean {
  return enabled;
}

function tracks(t: Tensor): boolean {
  return t._requiresGrad || t._gradFn !== null;
}

function afterOp(op: string, inputs: Tensor[], attrs: number[], out: Tensor): void {
  if (!enabled || !isFloat(out.dtype) || !VJP[op]) return;
  if (!inputs.some(tracks)) return;
  out._requiresGrad = true;
  out._gradFn = { op, inputs, attrs } as GradNode;
}

/** Accumulates g into t.grad (a new tensor: grads are never aliased into user tensors). */
function accumulate(t: Tensor, g: Tensor): void {
  // inside a builder, remember the tensor's state first: its pre-builder .grad comes back at end()
  if (hooks.recorder && !t.isSymbolic) hooks.recorder.saveBeforeRebind(t);
  const cur = t._grad;
  t._grad = cur && !cur.isDisposed ? cur.add(g) : g;
}

function backward(root: Tensor, grad?: Tensor, retainGraph = false): void {
  root._check();
  if (!tracks(root))
    throw new HoduError(
      ErrorCode.GRADIENT_NOT_COMPUTED,
      `backward: this tensor (shape ${describe(root.shape)}) does not require grad; set requiresGrad on a leaf it depends on`,
    );
  let seed: Tensor;
  if (grad === undefined) {
    if (root.size !== 1)
      throw invalidArg(`backward: the tensor has shape ${describe(root.shape)}; pass a gradient for a non-scalar output`);
    seed = Tensor.onesLike(root);
  } else {
    if (!(grad instanceof Tensor)) throw invalidArg(`backward: grad must be a Tensor, got ${describe(grad)}`);
    if (grad.shape.length !== root.shape.length || grad.shape.some((d, i) => d !== root.shape[i]))
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `backward: grad of shape ${describe(grad.shape)} for a tensor of shape ${describe(root.shape)}`);
    seed = grad.dtype === root.dtype ? grad : grad.toDtype(root.dtype);
  }

  // reverse topological order of the nodes reachable from root
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const fn = top[0]._gradFn as GradNode | null;
    const ins = fn ? fn.inputs : [];
    if (top[1] < ins.length) {
      const next = ins[top[1]++];
      if (!seen.has(next) && tracks(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(top[0]);
    }
  }

  for (const t of order) {
    const fn = t._gradFn as GradNode | null;
    if (fn && fn.freed)
      throw invalidArg(
        `backward: trying to go through the graph a second time (op '${fn.op}', shape ${describe(t.shape)}); its first backward() freed it. ` +
          'Pass backward({ retainGraph: true }) the first time, or recompute the loss',
      );
  }
  if (!retainGraph)
    for (const t of order) {
      const fn = t._gradFn as GradNode | null;
      if (fn) fn.freed = true;
    }

  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, seed);
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const fn = t._gradFn as GradNode | null;
      if (!fn) {
        // a leaf: accumulate into .grad
        if (t._requiresGrad) accumulate(t, g.dtype === t.dtype ? g : g.toDtype(t.dtype));
        continue;
      }
      const ins = fn.inputs;
      const gs = VJP[fn.op]({ inputs: ins, attrs: fn.attrs, out: t, grad: g, needs: ins.map(tracks) });
      for (let k = 0; k < ins.length; k++) {
        const gi = gs[k];
        if (!gi || !tracks(ins[k]) || !isFloat(ins[k].dtype)) continue;
        const prev = grads.get(ins[k]);
        grads.set(ins[k], prev ? prev.add(gi) : gi);
      }
    }
  });
}

hooks.afterOp = afterOp;
hooks.backward = backward;

export { DType };
