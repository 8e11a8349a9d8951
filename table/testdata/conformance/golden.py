#!/usr/bin/env python3
"""Writes golden.json: what an independent, minimal Delta log replay (this script, not
the Go code under test) says about each conformance table.

For every table whose JSON commits start at version 0 and are contiguous it records the
latest version, protocol, schemaString, partition columns, live files (canonical decoded
paths) and app transactions. For tables whose early commits were cleaned up (only a
checkpoint covers them) it records the latest version only; the Go test checks those
against the kernel's expected/ results instead.

Run from this directory: python3 golden.py
"""
import glob, json, os, re
from urllib.parse import unquote, urlparse

def canon(p):
    if p.startswith('/'):
        return 'file://' + unquote(p)
    i = p.find(':')
    if i > 0 and '/' not in p[:i] and '%' not in p[:i]:
        u = urlparse(p)
        return u.scheme + '://' + u.netloc + unquote(u.path)
    return unquote(p)

def dv_id(dv):
    if not dv:
        return ''
    s = dv['storageType'] + dv['pathOrInlineDv']
    if dv.get('offset') is not None:
        s += '@%d' % dv['offset']
    return s

out = {}
for log in sorted(glob.glob('*/*/_delta_log') + glob.glob('*/*/delta/_delta_log')):
    table = os.path.dirname(log)
    names = os.listdir(log)
    versions = sorted(int(n[:20]) for n in names if re.fullmatch(r'\d{20}\.json', n))
    cps = [int(n[:20]) for n in names if re.fullmatch(r'\d{20}\.checkpoint(\.\d{10}\.\d{10})?\.parquet', n)]
    latest = max(versions + cps) if versions or cps else -1
    rec = {'version': latest}
    if versions and versions[0] == 0 and versions == list(range(versions[-1] + 1)):
        files, txns, proto, meta = {}, {}, None, None
        for v in versions:
            with open(os.path.join(log, '%020d.json' % v)) as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    a = json.loads(line)
                    if 'add' in a:
                        files[(canon(a['add']['path']), dv_id(a['add'].get('deletionVector')))] = a['add']
                    elif 'remove' in a:
                        files.pop((canon(a['remove']['path']), dv_id(a['remove'].get('deletionVector'))), None)
                    elif 'txn' in a:
                        txns[a['txn']['appId']] = a['txn']['version']
                    elif 'protocol' in a:
                        proto = a['protocol']
                    elif 'metaData' in a:
                        meta = a['metaData']
        rec['replayed'] = True
        rec['files'] = sorted(k[0] for k in files)
        rec['txns'] = txns
        if proto:
            rec['protocol'] = proto
        if meta:
            rec['schemaString'] = meta.get('schemaString')
            rec['partitionColumns'] = meta.get('partitionColumns')
    out[table] = rec
with open('golden.json', 'w') as f:
    json.dump(out, f, indent=1, sort_keys=True)
print(len(out), 'tables')
