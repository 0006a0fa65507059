#!/usr/bin/env python3
"""bench/report.py RESULTS JSON — turns bench/run's raw figures into the table on stdout and
bench/out/latest.json, checks the targets, and exits 1 when one is missed (each one named)."""
import datetime
import json
import sys

RATIO_MIN = 0.35          # GET / and /api/v1/today at 64 connections vs the static ceiling
P99_MAX_MS_64 = 10.0
P99_MAX_MS_16 = 3.0
WORKER_RSS_MAX_KB = 16 * 1024
MASTER_RSS_MAX_KB = 8 * 1024
RSS_DRIFT_MAX = 0.05      # flat: within 5 %
FIRST_200_MAX_MS = 200.0
UPLOAD_GROWTH_MAX = 2.0   # peak RSS growth while uploading, in upload sizes
UPLOAD_VS_CURL_MAX = 2.0  # the 20 MB upload against curl -T to the local S3
GATED = ('home', 'api_today')
PAGE_PHASES = ('start', 'warm', 'after', 'long')

results_path, json_path = sys.argv[1], sys.argv[2]
meta, runs, rss, anon, upload, first200, long_run = {}, [], {}, {}, {}, {}, {}
with open(results_path) as f:
    for line in f:
        p = line.split()
        if not p:
            continue
        if p[0] == 'meta':
            meta[p[1]] = ' '.join(p[2:])
        elif p[0] == 'wrk':
            runs.append({'target': p[1], 'connections': int(p[2]), 'requests_per_s': float(p[3]),
                         'p50_ms': float(p[4]), 'p99_ms': float(p[5]), 'requests': int(p[6]),
                         'non_2xx': int(p[7]), 'socket_errors': int(p[8])})
        elif p[0] == 'rss':
            rss.setdefault(p[1], {})[p[2]] = int(p[3])
        elif p[0] == 'anon':
            anon.setdefault(p[1], {})[p[2]] = int(p[3])
        elif p[0] == 'upload':
            upload[p[1]] = float(p[2])
        elif p[0] == 'first200':
            first200[p[1]] = float(p[2])
        elif p[0] == 'long':
            long_run[p[1]] = int(p[2])
            if len(p) >= 5:
                long_run[p[3]] = int(p[4])

paths = {'static': '/bench-static', 'home': '/', 'api_today': '/api/v1/today',
         'day': meta.get('day_path', '/day/...'), 'feed': '/feed.atom'}
ceiling = {r['connections']: r['requests_per_s'] for r in runs if r['target'] == 'static'}
for r in runs:
    c = ceiling.get(r['connections'])
    r['ratio_to_static'] = round(r['requests_per_s'] / c, 3) if c else None

missed = []
for r in runs:
    if r['target'] not in GATED:
        continue
    name = '%s at %d connections' % (paths[r['target']], r['connections'])
    if r['connections'] == 64:
        if r['ratio_to_static'] is None or r['ratio_to_static'] < RATIO_MIN:
            missed.append('%s: %.3f x the static ceiling (target >= %.2f)' % (name, r['ratio_to_static'] or 0, RATIO_MIN))
        if r['p99_ms'] > P99_MAX_MS_64:
            missed.append('%s: p99 %.2f ms (target <= %.0f ms)' % (name, r['p99_ms'], P99_MAX_MS_64))
        if r['non_2xx'] or r['socket_errors']:
            missed.append('%s: %d non-2xx, %d socket errors (target 0)' % (name, r['non_2xx'], r['socket_errors']))
    if r['connections'] == 16 and r['p99_ms'] > P99_MAX_MS_16:
        missed.append('%s: p99 %.2f ms (target <= %.0f ms)' % (name, r['p99_ms'], P99_MAX_MS_16))

workers = {k.split(':')[1]: v for k, v in rss.items() if k.startswith('worker:')}
master = rss.get('master', {})
worker_max = max((kb for w in workers.values() for ph, kb in w.items() if ph in PAGE_PHASES), default=0)
if worker_max > WORKER_RSS_MAX_KB:
    missed.append('worker RSS %.1f MB while serving pages (target <= 16 MB)' % (worker_max / 1024))
master_max = max(master.values(), default=0)
if master_max > MASTER_RSS_MAX_KB:
    missed.append('master RSS %.1f MB (target <= 8 MB)' % (master_max / 1024))
drift_to = 'long' if meta.get('long') == 'yes' else 'after'
drifts = {}
for pid, w in workers.items():
    if 'warm' in w and drift_to in w:
        drifts[pid] = (w[drift_to] - w['warm']) / w['warm']
worst_drift = max(drifts.values(), key=abs, default=0.0)
if abs(worst_drift) > RSS_DRIFT_MAX:
    missed.append('worker RSS moved %+.1f %% from warm-up to the end of the %s run (target within 5 %%)'
                  % (worst_drift * 100, 'long' if drift_to == 'long' else 'page'))
home_first = first200.get('home', -1)
if home_first < 0 or home_first > FIRST_200_MAX_MS:
    missed.append('first 200 of GET / %.0f ms after iotd serve started (target <= 200 ms)' % home_first)

MB = 1024 * 1024
up = {}
if upload:
    five_mb = upload['five_bytes'] / MB
    up = {
        'five_mb_file_mb': round(five_mb, 2),
        'five_mb_uploads': int(upload['five_count']),
        'five_mb_throughput_mb_s': round(five_mb * upload['five_count'] / upload['five_seconds'], 2),
        'five_mb_ready_throughput_mb_s': round(five_mb * upload['five_count'] / upload['five_ready_seconds'], 2),
        'five_mb_peak_worker_rss_mb': round(upload['five_peak_rss_kb'] / 1024, 1),
        'five_mb_peak_growth_mb': round(upload['five_peak_growth_kb'] / 1024, 1),
        'twenty_mb_file_mb': round(upload['twenty_bytes'] / MB, 2),
        'twenty_mb_admin_s': round(upload['twenty_admin_seconds'], 3),
        'twenty_mb_ready_s': round(upload['twenty_ready_seconds'], 3),
        'twenty_mb_curl_s': round(upload['twenty_curl_seconds'], 3),
        'twenty_mb_peak_worker_rss_mb': round(upload['twenty_peak_rss_kb'] / 1024, 1),
        'twenty_mb_peak_growth_mb': round(upload['twenty_peak_growth_kb'] / 1024, 1),
        'five_mb_render_peak_rss_mb': round(upload.get('five_render_peak_kb', 0) / 1024, 1),
        'twenty_mb_render_peak_rss_mb': round(upload.get('twenty_render_peak_kb', 0) / 1024, 1),
    }
    up['twenty_mb_admin_vs_curl'] = round(up['twenty_mb_admin_s'] / up['twenty_mb_curl_s'], 2)
    for size in ('five', 'twenty'):
        growth, file_mb = up['%s_mb_peak_growth_mb' % size], up['%s_mb_file_mb' % size]
        if growth > UPLOAD_GROWTH_MAX * file_mb:
            missed.append('a %.1f MB upload grew a worker by %.1f MB (target <= 2 x the upload)' % (file_mb, growth))
    if up['twenty_mb_admin_vs_curl'] > UPLOAD_VS_CURL_MAX:
        missed.append('the 20 MB upload took %.2f s, %.2f x curl -T to the local S3 (%.2f s; target <= 2 x)'
                      % (up['twenty_mb_admin_s'], up['twenty_mb_admin_vs_curl'], up['twenty_mb_curl_s']))

report = {
    'time': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
    'settings': {'seconds_per_run': int(meta.get('duration', 0)), 'wrk_threads': 2,
                 'iotd_workers': int(meta.get('workers', 0)),
                 'iotd_admin_workers': int(meta.get('admin_workers', 0)), 'cpus': int(meta.get('cpus', 0)),
                 'home_page_bytes': int(meta.get('home_bytes', 0)), 'long': meta.get('long') == 'yes',
                 'load_average_before': float(meta.get('load_before', 0)),
                 'load_average_after': float(meta.get('load_after', 0))},
    'runs': [dict(r, path=paths[r['target']]) for r in runs],
    'rss_kb': {'master': master, 'workers': workers},
    'rss_anon_kb': {'master': anon.get('master', {}),
                    'workers': {k.split(':')[1]: v for k, v in anon.items() if k.startswith('worker:')}},
    'worker_rss_drift': {pid: round(d, 4) for pid, d in drifts.items()},
    'first_200_ms': first200,
    'long_run': long_run,
    'uploads': up,
    'targets_missed': missed,
}
with open(json_path, 'w') as f:
    json.dump(report, f, indent=2)
    f.write('\n')

s = report['settings']
print('iotd bench: %d s per run, wrk 2 threads, %d iotd page workers (+%d admin), %d CPUs, load average %.1f -> %.1f'
      % (s['seconds_per_run'], s['iotd_workers'], s['iotd_admin_workers'], s['cpus'], s['load_average_before'],
         s['load_average_after']))
print()
print('| target | path | conns | req/s | p50 ms | p99 ms | non-2xx | ratio to (a) |')
print('|---|---|---:|---:|---:|---:|---:|---:|')
letters = {'static': '(a) static', 'home': '(b) home', 'api_today': '(c) api', 'day': '(d) day', 'feed': '(e) feed'}
for r in runs:
    print('| %s | %s | %d | %.0f | %.2f | %.2f | %d | %s |' % (
        letters.get(r['target'], r['target']), paths[r['target']], r['connections'], r['requests_per_s'],
        r['p50_ms'], r['p99_ms'], r['non_2xx'] + r['socket_errors'],
        '%.2f' % r['ratio_to_static'] if r['ratio_to_static'] is not None else '-'))
print()
phases = ['start', 'warm', 'after'] + (['long'] if meta.get('long') == 'yes' else []) + ['end']
def cell(kind, who, phase):
    total = rss.get(who, {}).get(phase)
    if total is None:
        return '-'
    private = anon.get(who, {}).get(phase)
    return '%.1f' % (total / 1024) + (' (%.1f)' % (private / 1024) if private is not None else '')
print('| RSS MB (anonymous) | ' + ' | '.join(phases) + ' |')
print('|---|' + '---:|' * len(phases))
print('| master | ' + ' | '.join(cell('rss', 'master', p) for p in phases) + ' |')
for pid in sorted(workers):
    print('| worker %s | ' % pid + ' | '.join(cell('rss', 'worker:' + pid, p) for p in phases) + ' |')
print()
print('first 200 after iotd serve starts: /healthz %.0f ms, GET / %.0f ms'
      % (first200.get('healthz', -1), first200.get('home', -1)))
if long_run:
    print('long run: %d requests to / in %d s, %d non-2xx' % (long_run.get('requests', 0), long_run.get('seconds', 0),
                                                             long_run.get('non2xx', 0)))
if up:
    print('uploads: %d x %.1f MB through the admin at %.2f MB/s (%.2f MB/s to renditions made),'
          ' peak worker RSS %.1f MB (+%.1f MB), iotd-render %.1f MB'
          % (up['five_mb_uploads'], up['five_mb_file_mb'], up['five_mb_throughput_mb_s'],
             up['five_mb_ready_throughput_mb_s'], up['five_mb_peak_worker_rss_mb'], up['five_mb_peak_growth_mb'],
             up['five_mb_render_peak_rss_mb']))
    print('         %.1f MB through the admin in %.2f s, renditions made after %.2f s (peak %.1f MB, +%.1f MB,'
          ' iotd-render %.1f MB); curl -T to the local S3 %.2f s (%.2f x)'
          % (up['twenty_mb_file_mb'], up['twenty_mb_admin_s'], up['twenty_mb_ready_s'],
             up['twenty_mb_peak_worker_rss_mb'], up['twenty_mb_peak_growth_mb'], up['twenty_mb_render_peak_rss_mb'],
             up['twenty_mb_curl_s'], up['twenty_mb_admin_vs_curl']))
print()
if missed:
    print('targets missed:')
    for m in missed:
        print('  - ' + m)
    sys.exit(1)
print('all targets met')
