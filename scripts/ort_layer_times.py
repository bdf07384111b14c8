"""ONNX Runtime's time per convolution of torchvision's r2plus1d_18 on one 3x16x112x112 clip, by module name.

Usage: python scripts/ort_layer_times.py [--threads N] [--reps R] [--json]   (reference venv)
ORT's own profiler times each node; a block's residual Add and ReLU (fused into our conv2 epilogue) are
counted with its conv2.0.3, a conv's BatchNorm is folded by ORT as by us. Random weights, as in the benchmark.
"""
import argparse, collections, json, os, shutil, statistics, tempfile


def module_name(node):
    # "/layer1/layer1.0/conv1/conv1.0/conv1.0.0/Conv" -> "layer1.0.conv1.0.0"; "/stem/stem.0/Conv" -> "stem.0";
    # "/layer1/layer1.0/Add" and "/layer1/layer1.0/relu/Relu" -> "layer1.0.conv2.0.3".
    parts = node.strip("/").split("/")
    if parts[0] == "stem":
        return parts[1]
    if parts[0].startswith("layer") and len(parts) >= 3:
        if parts[-1] in ("Add", "Relu") and parts[2] in ("Add", "relu"):
            return f"{parts[1]}.conv2.0.3"
        if parts[-1] == "Conv":
            return f"{parts[1]}.{parts[-2]}"
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    import onnxruntime as ort
    import torch
    from torchvision.models.video import r2plus1d_18

    torch.manual_seed(0)
    model = r2plus1d_18(num_classes=400).eval()
    work = tempfile.mkdtemp()
    path = os.path.join(work, "r2plus1d_18.onnx")
    torch.onnx.export(model, torch.randn(1, 3, 16, 112, 112), path, input_names=["clips"], output_names=["logits"],
                      opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = a.threads
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(work, "profile")  # not the current folder
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    x = torch.randn(1, 3, 16, 112, 112).numpy()
    for _ in range(1 + a.reps):
        session.run(None, {"clips": x})
    events = json.load(open(session.end_profiling()))
    shutil.rmtree(work)
    per_run = collections.defaultdict(lambda: collections.defaultdict(float))
    runs = collections.Counter()
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        name = module_name(e["name"][: -len("_kernel_time")])
        if name is None:
            continue
        # Each node runs once per session.run: count its occurrences to number the runs.
        run = runs[e["name"]]
        runs[e["name"]] += 1
        per_run[run][name] += e["dur"] / 1000
    timed = [per_run[r] for r in sorted(per_run) if r >= 1]  # run 0 is the warm-up
    names = list(timed[0])
    layers = [{"name": n, "ms": statistics.median(r[n] for r in timed)} for n in names]
    if a.json:
        print(json.dumps({"engine": f"onnxruntime-{ort.__version__}", "threads": a.threads, "layers": layers}))
    else:
        for layer in layers:
            print(f"{layer['name']:24s}{layer['ms']:8.2f} ms")
        print(f"{'sum':24s}{sum(l['ms'] for l in layers):8.2f} ms")


if __name__ == "__main__":
    main()
