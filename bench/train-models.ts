// The models the training-step benches share (bench/mnist-step.ts, eager-step.ts,
// variables-inplace.ts, xla-resident.ts), seeded so every variant starts from the same weights.
import { manualSeed, nn } from '../lib';

/** The MNIST CNN: two 3×3 conv + ReLU + 2×2 max-pool blocks (16, 32 channels), then 128 → 10. */
export function mnistCnn(): nn.Sequential {
  manualSeed(0);
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10),
  );
}

/** A 784-hidden-hidden-10 ReLU MLP. */
export function mnistMlp(hidden: number): nn.Sequential {
  manualSeed(0);
  return new nn.Sequential(new nn.Linear(784, hidden), new nn.ReLU(), new nn.Linear(hidden, hidden), new nn.ReLU(), new nn.Linear(hidden, 10));
}
