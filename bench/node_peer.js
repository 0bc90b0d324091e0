// The seed's stack as a benchmark peer: Node web-push 3.6.7 under p-limit
// (concurrency 10 by default, the seed's setting), one 1 KB payload to every
// subscription of subs.json, against the same receiver as webpush-sender.
// Prints one JSON line: messages, seconds, msgs_per_s, cpu_us_per_msg,
// p50_ms, p99_ms, peak_rss_mb, failed.
'use strict';
const fs = require('fs');
const webpush = require('web-push');
const pLimit = require('p-limit');

const subs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const conc = parseInt(process.env.PEER_CONCURRENCY || '10', 10);
const payload = 'x'.repeat(1024);
webpush.setVapidDetails(process.env.VAPID_SUBJECT,
                        process.env.VAPID_PUBLIC_KEY,
                        process.env.VAPID_PRIVATE_KEY);

let peak = 0;
const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
}, 50);

(async () => {
    const limit = pLimit(conc);
    const lat = [];
    let failed = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await Promise.all(subs.map((s) => limit(async () => {
        const a = process.hrtime.bigint();
        try {
            await webpush.sendNotification(s, payload, { TTL: 3600 });
        } catch (e) {
            failed++;
        }
        lat.push(Number(process.hrtime.bigint() - a) / 1e6);
    })));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    lat.sort((x, y) => x - y);
    const ok = subs.length - failed;
    console.log(JSON.stringify({
        messages: ok, failed, seconds: secs, msgs_per_s: ok / secs,
        cpu_us_per_msg: (cpu.user + cpu.system) / ok,
        p50_ms: lat[Math.floor(lat.length * 0.5)],
        p99_ms: lat[Math.floor(lat.length * 0.99)],
        peak_rss_mb: peak / 1048576,
    }));
})();
