"""The full-size parity verdict both reference scripts print: our logits against a framework's, numpy arrays."""
import numpy as np

TOLERANCE = 1e-4  # max |difference| relative to max |logit|: the engine's parity target


def verdict(name, got, want, scale):
    """Prints one line for `name` and returns whether it holds: within TOLERANCE * scale and the same top-5 classes."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    diff = np.abs(got - want).max()
    same_top5 = all(set(np.argsort(a)[-5:]) == set(np.argsort(b)[-5:]) for a, b in zip(got, want))
    ok = diff <= TOLERANCE * scale and same_top5
    print(f"{name}: max |logit difference| {diff:.3g}, max |logit| {scale:.3g}, relative {diff / scale:.3g}, "
          f"same top-5 {same_top5}: {'ok' if ok else 'FAILED'}")
    return ok
