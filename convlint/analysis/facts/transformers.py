"""Facts about transformers: model classes (not configs, tokenizers or processors), pipelines."""

FACTS = {
    "classes": {
        "transformers.**.AutoModel*": "module",
        "transformers.**.*Model": "module",
        "transformers.**.*For[A-Z]*": "module",
        "transformers.**.*PreTrainedModel": "module",
        "transformers.**.TF*": None,
        "transformers.**.Flax*": None,
        "transformers.**.*Config": None,
        "transformers.**.*Tokenizer": None,
        "transformers.**.*TokenizerFast": None,
        "transformers.**.*Processor": None,
        "transformers.**.*FeatureExtractor": None,
        "transformers.**.*ImageProcessor": None,
        "transformers.**.*Output": None,
        "transformers.**.*Pipeline": "class",
    },
    "functions": {
        "transformers.pipeline": "class:transformers.Pipeline",
    },
    "methods": {
        "transformers.**.AutoModel*": {"from_pretrained": "instance", "from_config": "instance"},
        "transformers.**.*Model": {"from_pretrained": "instance"},
        "transformers.**.*For[A-Z]*": {"from_pretrained": "instance", "from_config": "instance"},
    },
    "attributes": {
        "transformers.Pipeline": {"model": "module"},
        "transformers.**.*Pipeline": {"model": "module"},
    },
}
