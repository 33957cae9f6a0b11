"""Facts about torchvision: model builders, model and ops classes, their parts."""

FACTS = {
    "functions": {
        "torchvision.models.[a-z]*": "module",
        "torchvision.models.*.[a-z]*": "module",
        "torchvision.models.get_model": "module",
        "torchvision.models.get_weight": None,
        "torchvision.models.get_model_weights": None,
        "torchvision.models.list_models": None,
        "torchvision.models.get_model_builder": None,
    },
    "classes": {
        "torchvision.models.**.[A-Z]*": "module",
        "torchvision.models.**.*Weights": None,
        "torchvision.models.**.*WeightsEnum": None,
        "torchvision.ops.**.[A-Z]*": "module",
    },
    "attributes": {
        "torchvision.models.**": {
            "features": "module", "classifier": "module", "backbone": "module", "fc": "module",
            "avgpool": "module", "head": "module", "layer1": "module", "layer2": "module",
            "layer3": "module", "layer4": "module",
        },
    },
}
