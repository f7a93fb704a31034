using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Edgewise.Server.Backend;

namespace Edgewise.Server.Hosting;

/// <summary>
/// Counters for <c>/metrics</c>, rendered in the Prometheus text format. Rates are exported as
/// counter pairs (tokens, seconds) so Prometheus can take rate() of each; the ratio since start is
/// exported too for people reading the page by eye.
/// </summary>
public sealed class ServerMetrics
{
    private readonly ConcurrentDictionary<(string Route, int Status), long> _requests = new();
    private long _promptTokens;
    private long _cachedPromptTokens;
    private long _completionTokens;
    private long _prefillTicks;
    private long _decodeTicks;
    private long _disconnects;
    private long _rejected;

    public void RecordRequest(string route, int status) =>
        _requests.AddOrUpdate((route, status), 1, static (_, n) => n + 1);

    public void RecordUsage(GenerationUsage usage)
    {
        Interlocked.Add(ref _promptTokens, usage.PromptTokens);
        Interlocked.Add(ref _cachedPromptTokens, usage.CachedPromptTokens);
        Interlocked.Add(ref _completionTokens, usage.CompletionTokens);
        Interlocked.Add(ref _prefillTicks, usage.PrefillTime.Ticks);
        Interlocked.Add(ref _decodeTicks, usage.DecodeTime.Ticks);
    }

    public void RecordDisconnect() => Interlocked.Increment(ref _disconnects);

    public void RecordRejected() => Interlocked.Increment(ref _rejected);

    public long Disconnects => Interlocked.Read(ref _disconnects);

    public long CompletionTokens => Interlocked.Read(ref _completionTokens);

    public string Render(AdmissionQueue queue, BackendStatus status, BackendStats stats)
    {
        var text = new StringBuilder(4096);
        text.Append("# HELP edgewise_requests_total HTTP requests by route and status code.\n# TYPE edgewise_requests_total counter\n");
        foreach (var ((route, code), count) in _requests.OrderBy(kv => kv.Key.Route, StringComparer.Ordinal).ThenBy(kv => kv.Key.Status))
            text.Append(CultureInfo.InvariantCulture, $"edgewise_requests_total{{route=\"{Escape(route)}\",status=\"{code}\"}} {count}\n");

        var prefillSeconds = TimeSpan.FromTicks(Interlocked.Read(ref _prefillTicks)).TotalSeconds;
        var decodeSeconds = TimeSpan.FromTicks(Interlocked.Read(ref _decodeTicks)).TotalSeconds;
        var prompt = Interlocked.Read(ref _promptTokens);
        var cached = Interlocked.Read(ref _cachedPromptTokens);
        var completion = Interlocked.Read(ref _completionTokens);
        Metric(text, "edgewise_prompt_tokens_total", "counter", "Prompt tokens, cached ones included.", prompt);
        Metric(text, "edgewise_prompt_cached_tokens_total", "counter", "Prompt tokens served from the prefix cache.", cached);
        Metric(text, "edgewise_completion_tokens_total", "counter", "Generated tokens.", completion);
        Metric(text, "edgewise_prefill_seconds_total", "counter", "Time spent evaluating prompts.", prefillSeconds);
        Metric(text, "edgewise_decode_seconds_total", "counter", "Time spent generating tokens.", decodeSeconds);
        Metric(text, "edgewise_prefill_tokens_per_second", "gauge", "Prompt tokens evaluated per second of prefill, since start.", prefillSeconds > 0 ? (prompt - cached) / prefillSeconds : 0);
        Metric(text, "edgewise_decode_tokens_per_second", "gauge", "Tokens generated per second of decode, since start (batched steps count once per session).", decodeSeconds > 0 ? completion / decodeSeconds : 0);
        Metric(text, "edgewise_client_disconnects_total", "counter", "Generations cancelled because the client went away.", Interlocked.Read(ref _disconnects));
        Metric(text, "edgewise_rejected_requests_total", "counter", "Requests answered 429 because the queue was full.", Interlocked.Read(ref _rejected));

        Metric(text, "edgewise_queue_depth", "gauge", "Requests waiting for a generation slot.", queue.Waiting);
        Metric(text, "edgewise_queue_capacity", "gauge", "Requests allowed to wait.", queue.Capacity);
        Metric(text, "edgewise_active_generations", "gauge", "Generations holding a slot.", queue.Active);
        Metric(text, "edgewise_parallel_slots", "gauge", "Generations allowed to run together.", queue.Parallel);
        Metric(text, "edgewise_model_loaded", "gauge", "1 when the model is ready to serve.", status.State == BackendState.Ready ? 1 : 0);

        Metric(text, "edgewise_sessions_active", "gauge", "Sessions the engine holds.", stats.ActiveSessions);
        Metric(text, "edgewise_kv_cache_bytes", "gauge", "KV cache memory reserved.", stats.KvCacheBytes);
        Metric(text, "edgewise_ple_resident_bytes", "gauge", "Per-layer embedding table bytes resident in memory.", stats.PleResidentBytes);
        Metric(text, "edgewise_prefix_cache_entries", "gauge", "Prompt prefixes kept for reuse.", stats.PrefixCacheEntries);
        Metric(text, "edgewise_prefix_cache_bytes", "gauge", "Memory held by the prefix cache.", stats.PrefixCacheBytes);
        Metric(text, "edgewise_prefix_cache_hit_tokens_total", "counter", "Prompt tokens reused from the prefix cache.", stats.PrefixCacheHitTokens);
        foreach (var (name, value) in stats.Extra.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            Metric(text, "edgewise_" + name, "gauge", "Engine gauge.", value);
        return text.ToString();
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value.ToString("0.######", CultureInfo.InvariantCulture)}\n");

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
