"""Reading PMS dispensing/claims exports: pure code, no Django.

`profiles` maps a vendor's headers and spellings onto the canonical layout (data files, one
per layout); `read` streams a CSV or XLSX in batches; `normalize` turns a batch into
canonical, typed columns and a list of row problems.
"""
