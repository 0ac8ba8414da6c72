from tests.support.pms_fixtures import stores, world_files, world_manifest
from tests.support.recon_world import fee_world

__all__ = ["fee_world", "stores", "world_files", "world_manifest"]
