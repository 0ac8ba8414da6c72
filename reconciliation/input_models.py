"""Fee statements, NADAC prices and acquisition costs: models."""
