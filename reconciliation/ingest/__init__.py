"""Readers for the reconciliation inputs other than 835s: PBM fee / DIR statements, the CMS
NADAC file and wholesaler invoices (docs/formats.md). Bytes in, normalized Arrow rows and
row problems out; no Django, no database. The services match stores and write."""
