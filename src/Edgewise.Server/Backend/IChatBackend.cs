namespace Edgewise.Server.Backend;

/// <summary>
/// The port between the HTTP layer and an inference engine. The server speaks only these neutral
/// types; an adapter in front of the engine implements them. One instance serves every request.
/// </summary>
/// <remarks>
/// Contract of <see cref="GenerateAsync"/>:
/// <list type="bullet">
/// <item>Validation errors (<see cref="ContextOverflowException"/>, <see cref="InvalidSchemaException"/>,
/// <see cref="ModelNotFoundException"/>, <see cref="UnsupportedRequestException"/>) are thrown before the
/// first event is yielded: the server pulls the first event before it commits a status code.</item>
/// <item>Each choice (0..n-1) ends with exactly one <see cref="FinishedEvent"/>; the stream ends with one
/// <see cref="UsageEvent"/> covering all choices.</item>
/// <item>The cancellation token is the client's connection: cancel within one decoded token and release
/// the session.</item>
/// </list>
/// </remarks>
public interface IChatBackend
{
    /// <summary>Models this backend can serve; the first one is the default.</summary>
    IReadOnlyList<ModelDescriptor> Models { get; }

    /// <summary>Loading state for <c>/health</c>; requests are refused with 503 until <see cref="BackendState.Ready"/>.</summary>
    BackendStatus Status { get; }

    IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken);

    /// <summary>Gauges for <c>/metrics</c>; called on every scrape, so cheap.</summary>
    BackendStats GetStats();
}

public enum BackendState
{
    Loading,
    Ready,
    Failed,
}

public sealed record BackendStatus(BackendState State, string? Message = null)
{
    public static readonly BackendStatus Ready = new(BackendState.Ready);
}

/// <summary>What <c>/v1/models</c>, <c>/api/tags</c> and <c>/api/show</c> report about one model.</summary>
public sealed record ModelDescriptor(
    string Id,
    int ContextLength,
    DateTimeOffset Created,
    string OwnedBy = "edgewise",
    bool SupportsTools = true,
    bool SupportsThinking = false)
{
    /// <summary>Other names that resolve to this model (file name, hub id, short alias).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>Architecture name as stored in the file (<c>gemma4</c>, <c>gemma3n</c>).</summary>
    public string? Family { get; init; }

    public string? ParameterSize { get; init; }

    /// <summary>Weight type, spelled as ggml does (<c>Q4_K</c>, <c>Q8_0</c>, <c>BF16</c>).</summary>
    public string? Quantization { get; init; }

    public long SizeBytes { get; init; }

    /// <summary>Content digest of the weights file when known (Ollama clients display it).</summary>
    public string? Digest { get; init; }

    public bool Matches(string name) =>
        string.Equals(name, Id, StringComparison.OrdinalIgnoreCase)
        || Aliases.Any(a => string.Equals(name, a, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Engine-side gauges. Byte counts are what is resident or reserved now, not file sizes.
/// <see cref="Extra"/> carries anything else the engine wants scraped (name → value, names already
/// Prometheus-safe, without the <c>edgewise_</c> prefix).
/// </summary>
public sealed record BackendStats(
    int ActiveSessions,
    long KvCacheBytes,
    long PleResidentBytes,
    int PrefixCacheEntries,
    long PrefixCacheBytes,
    long PrefixCacheHitTokens)
{
    public IReadOnlyDictionary<string, double> Extra { get; init; } = new Dictionary<string, double>();

    public static readonly BackendStats Empty = new(0, 0, 0, 0, 0, 0);
}
