# Writes ONNX's own node tests (the generators shipped in the onnx wheel) as
#   OUT/<test_name>/model.onnx + test_data_set_0/{input,output}_K.pb
# plus OUT/index.json ([{name, rtol, atol}]). Run by scripts/onnx-node-tests.js in a venv with the
# pinned onnx; tensors only (sequence / map / optional values are skipped and listed as such).
import json
import os
import sys

import numpy as np  # noqa: F401
import onnx
from onnx import TensorProto, numpy_helper
from onnx.backend.test.case import node as node_cases

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cases = node_cases.collect_testcases()
index = []
for case in cases:
    if case.kind != "node" or case.model is None:
        continue
    d = os.path.join(out, case.name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    entry = {"name": case.name, "rtol": case.rtol, "atol": case.atol, "tensorsOnly": True}
    inputs, outputs = case.data_sets[0]
    def write(kind, values, infos):
        for j, v in enumerate(values):
            info = infos[j] if j < len(infos) else None
            if info is not None and not info.type.HasField("tensor_type"):
                entry["tensorsOnly"] = False
                continue
            try:
                t = v if isinstance(v, TensorProto) else numpy_helper.from_array(np.asarray(v), info.name if info else "")
            except Exception:
                entry["tensorsOnly"] = False
                continue
            with open(os.path.join(d, "test_data_set_0", f"{kind}_{j}.pb"), "wb") as f:
                f.write(t.SerializeToString())
    write("input", inputs, list(case.model.graph.input))
    write("output", outputs, list(case.model.graph.output))
    index.append(entry)
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"onnx": onnx.__version__, "tests": index}, f)
print(f"{len(index)} node tests from onnx {onnx.__version__} in {out}")
