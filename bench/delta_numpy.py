"""numpy baseline for bench/delta.js: per-tensor L2 of (attacked - base) over two BF16 safetensors
checkpoints, memory-mapped, in bounded chunks. Prints JSON {seconds, bytes_per_checkpoint, n_tensors}."""
import json, os, struct, sys, time
import numpy as np

CHUNK = 1 << 24  # elements per step (32 MB of BF16 per side)


def tensors(folder):
    idx = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    out = {}
    for f in files:
        path = os.path.join(folder, f)
        with open(path, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
        mm = np.memmap(path, dtype=np.uint8, mode="r")
        for name, e in header.items():
            if name == "__metadata__":
                continue
            b, end = e["data_offsets"]
            out[name] = mm[8 + n + b: 8 + n + end].view(np.uint16)
    return out


def f32(u16):
    return (u16.astype(np.uint32) << 16).view(np.float32)


def main(base_dir, attacked_dir):
    t0 = time.perf_counter()
    a, b = tensors(base_dir), tensors(attacked_dir)
    total = 0
    l2 = {}
    for name, x in a.items():
        y = b[name]
        s = 0.0
        for i in range(0, x.size, CHUNK):
            d = f32(y[i:i + CHUNK]) - f32(x[i:i + CHUNK])
            s += float(np.dot(d, d))
        l2[name] = s ** 0.5
        total += x.nbytes
    print(json.dumps({"seconds": time.perf_counter() - t0, "bytes_per_checkpoint": total, "n_tensors": len(l2)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
