// Builder: while active, every tensor op is recorded into a graph instead of running.
import { ErrorCode, HoduError, describe, invalidArg } from './errors';
import { hooks } from './hooks';
import { GraphRecorder } from './ir/graph';
import { encodeGraph } from './ir/encode';
import { Script } from './script';
import { Tensor } from './tensor';
import { finalizeGraph } from './variables';
import { applyStacks } from './stack-outputs';

/** Options of Builder.addOutput. */
export interface AddOutputOptions {
  /** Stack this output over the recorded steps: call addOutput once per step with the same name. */
  stack?: boolean;
}

type State = 'new' | 'active' | 'ended';

export class Builder {
  readonly name: string;
  private state: State = 'new';
  /** @internal */ readonly _graph: GraphRecorder;

  constructor(name: string) {
    if (typeof name !== 'string' || name.length === 0) throw invalidArg(`Builder: name must be a non-empty string, got ${describe(name)}`);
    this.name = name;
    this._graph = new GraphRecorder(name);
  }

  /** True while some builder of this JS realm is recording. */
  static isActive(): boolean {
    return hooks.recorder !== null;
  }

  /** @internal Drops whatever builder is recording (test clean-up). */
  static _abortActive(): void {
    hooks.recorder = null;
  }

  /** Starts recording. One builder may be active at a time; an ended builder cannot restart. */
  start(): this {
    if (this.state === 'ended') throw new HoduError(ErrorCode.BUILDER_ENDED, `builder '${this.name}' has ended and cannot be started again`);
    if (hooks.recorder !== null)
      throw new HoduError(
        ErrorCode.BUILDER_ALREADY_ACTIVE,
        hooks.recorder === this._graph
          ? `builder '${this.name}' is already active`
          : `another builder ('${(hooks.recorder as GraphRecorder).owner}') is active; end it before starting '${this.name}'`,
      );
    hooks.recorder = this._graph;
    this.state = 'active';
    return this;
  }

  /** Stops recording. */
  end(): this {
    if (this.state !== 'active' || hooks.recorder !== this._graph)
      throw new HoduError(ErrorCode.BUILDER_INACTIVE, `builder '${this.name}' is not active (call start() first)`);
    hooks.recorder = null;
    this.state = 'ended';
    this._graph.restoreRebound();
    return this;
  }

  get isEnded(): boolean {
    return this.state === 'ended';
  }

  /**
   * Marks a tensor of this graph (or a concrete tensor, as a constant) as a named output.
   * With `{ stack: true }`, call it once per recorded step with the same name: the output is every
   * step's value stacked, shape [steps, ...shape] (a loss curve of a rolled epoch; the loop still rolls).
   */
  addOutput(name: string, tensor: Tensor, options: AddOutputOptions = {}): this {
    if (this.state === 'new') throw new HoduError(ErrorCode.BUILDER_INACTIVE, `builder '${this.name}' has not been started`);
    if (options === null || typeof options !== 'object') throw invalidArg(`addOutput('${name}'): options must be an object like { stack: true }, got ${describe(options)}`);
    this._graph.addOutput(name, tensor, options.stack === true);
    return this;
  }

  /** The recorded graph as a Script (ends the builder if it is still active). */
  build(): Script {
    if (this.state === 'new') throw new HoduError(ErrorCode.BUILDER_INACTIVE, `builder '${this.name}' has not been started`);
    if (this.state === 'active') this.end();
    if (this._graph.outputs.length === 0 && this._graph.stacks.size === 0) throw invalidArg(`builder '${this.name}' has no outputs (call addOutput before build)`);
    const fin = finalizeGraph(this._graph);
    const stacked = applyStacks(fin.values, fin.outputs, fin.constants, [...this._graph.stacks].map(([name, values]) => ({ name, values })));
    const ir = encodeGraph(stacked.values, stacked.outputs);
    return Script._create(
      this.name,
      ir,
      fin.constants,
      fin.variables,
      fin.variables.some((v) => v.bakeable) ? stacked : undefined,
      this._graph.symbols.decls,
    );
  }
}
