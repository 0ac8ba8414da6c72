from tests.support.pms_fixtures import stores, world_files, world_manifest

__all__ = ["stores", "world_files", "world_manifest"]
