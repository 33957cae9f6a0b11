"""Facts about torchvision: model builders, model and ops classes, their parts."""

FACTS = {
    "functions": {
        "torchvision.models.[a-z]*": "module",
        "torchvision.models.*.[a-z]*": "module",  # detection, segmentation, video...
    },
    "classes": {
        "torchvision.models.**.[A-Z]*": "module",
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
