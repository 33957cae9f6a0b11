"""Facts about transformers: model classes (not TensorFlow or Flax ones), pipelines."""

FACTS = {
    "classes": {
        "transformers.**.AutoModel*": "module",
        "transformers.**.*Model": "module",
        "transformers.**.*For[A-Z]*": "module",
        "transformers.**.TF*": None,
        "transformers.**.Flax*": None,
        "transformers.**.*Pipeline": "class",
    },
    "functions": {
        "transformers.pipeline": "class:transformers.Pipeline",
    },
    "methods": {
        "transformers.**": {"from_pretrained": "instance", "from_config": "instance"},
    },
    "attributes": {
        "transformers.**Pipeline": {"model": "module"},
    },
}
