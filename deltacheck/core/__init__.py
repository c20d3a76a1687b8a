"""What every part of deltacheck shares: case specs, activations, gradients, verdicts, tolerances,
reading an implementation's result, isolation, and loading user code."""
