from tests.support.adherence_world import worklist_chain

__all__ = ["worklist_chain"]
