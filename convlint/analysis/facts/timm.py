"""Facts about timm: create_model, its module classes, EMA wrappers, BN conversions."""

FACTS = {
    "functions": {
        "timm.create_model": "module",
        "timm.models.create_model": "module",
        "timm.models.convert_splitbn_model": "arg:0",
        "timm.layers.convert_sync_batchnorm": "arg:0",
        "timm.layers.convert_splitbn_model": "arg:0",
        # (model, whether the pool was applied)
        "timm.models.apply_test_time_pool": {"tuple": ["arg:0", "none"]},
    },
    "classes": {
        "timm.models.**.[A-Z]*": "module",
        "timm.layers.**.[A-Z]*": "module",
        "timm.utils.**.ModelEma*": "module",
    },
    "attributes": {
        "timm.utils.**.ModelEma*": {"module": "module"},
    },
}
