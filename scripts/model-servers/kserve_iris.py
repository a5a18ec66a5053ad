"""The Iris model (model.joblib from make_iris_model.py) on KServe's Python model server.

KServe's ModelServer provides the protocol endpoints: v1 (TF-Serving format) `GET /v1/models/iris`,
`POST /v1/models/iris:predict` and v2 (Open Inference Protocol) `GET /v2/models/iris`,
`POST /v2/models/iris/infer` with the binary tensor data extension. This class only loads the
estimator and answers predict_proba; invalid input is rejected with kserve's InvalidInput (HTTP 400).

Usage: python kserve_iris.py --model_dir DIR --http_port PORT [--grpc_port PORT]
"""

import argparse
import uuid

import joblib
import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer, model_server
from kserve.errors import InvalidInput


class IrisModel(Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.path = path
        self.estimator = None
        self.load()

    def load(self) -> bool:
        self.estimator = joblib.load(self.path)
        self.ready = True
        return self.ready

    def get_input_types(self):
        return [{"name": "measurements", "datatype": "FP32", "shape": [-1, 4]}]

    def get_output_types(self):
        return [{"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]}]

    def _proba(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != 4:
            raise InvalidInput(f"iris expects measurements of shape [n, 4] (sepal length, sepal width, petal length, petal width in cm), got {list(x.shape)}")
        return self.estimator.predict_proba(x)

    async def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            proba = self._proba(payload.inputs[0].as_numpy())
            output = InferOutput(name="predict_proba", shape=list(proba.shape), datatype="FP64")
            output.set_data_from_numpy(proba, binary_data=False)
            return InferResponse(
                model_name=self.name,
                infer_outputs=[output],
                response_id=payload.id or str(uuid.uuid4()),
                use_binary_outputs=payload.use_binary_outputs,
                requested_outputs=payload.request_outputs,
            )
        instances = payload.get("instances")
        if not isinstance(instances, list):
            raise InvalidInput('expected {"instances": [[sepal length, sepal width, petal length, petal width], ...]}')
        return {"predictions": self._proba(np.asarray(instances, dtype=np.float64)).tolist()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(parents=[model_server.parser])
    parser.add_argument("--model_dir", required=True)
    args, _ = parser.parse_known_args()
    ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=False, workers=1).start([IrisModel("iris", f"{args.model_dir}/iris/model.joblib")])
