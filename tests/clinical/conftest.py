from tests.support.adherence_world import worklist_chain
from tests.support.pms_fixtures import stores, world_files, world_manifest

__all__ = ["stores", "worklist_chain", "world_files", "world_manifest"]
