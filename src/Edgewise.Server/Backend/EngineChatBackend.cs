using Edgewise.Engine.Scheduling;
using Edgewise.Engine.Sessions;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Gemma4;

namespace Edgewise.Server.Backend;

/// <summary>Prefix-cache bounds and other adapter settings beyond <see cref="BackendOptions"/>.</summary>
/// <param name="Id">Model id clients use; null: the file name.</param>
/// <param name="Aliases">More names that resolve to the model (the hub alias the user typed).</param>
/// <param name="MaxIdleSessions">Idle sessions kept as prefix-cache entries; null: <c>max(4, parallel)</c>.</param>
/// <param name="MaxIdleKvBytes">KV bytes those entries may hold together.</param>
/// <param name="ChatTemplate">A Jinja chat template to use instead of the model's.</param>
/// <param name="Placement">Where weights and the PLE table live (<c>--ple</c>, <c>--ple-cache</c>, <c>--weights</c>); threads come from <see cref="BackendOptions"/>.</param>
public sealed record EngineBackendOptions(
    string? Id = null,
    IReadOnlyList<string>? Aliases = null,
    int? MaxIdleSessions = null,
    long MaxIdleKvBytes = 2L * 1024 * 1024 * 1024,
    string? ChatTemplate = null,
    ModelLoadOptions? Placement = null);

/// <summary>
/// The real engine behind the HTTP server: one model loaded on a background task (<c>/health</c> answers 503
/// meanwhile), a pool of chat sessions that doubles as a prefix cache across requests, and the mapping from
/// the server's neutral requests and events to engine turns and updates.
/// </summary>
public sealed partial class EngineChatBackend : IChatBackend, IDisposable
{
    private readonly BackendOptions _options;
    private readonly EngineBackendOptions _engineOptions;
    private readonly string _path;
    private volatile BackendStatus _status = new(BackendState.Loading, "loading");
    private volatile ModelDescriptor _descriptor;
    private EdgewiseModel? _model;         // owns the weights; its sessions decode together through its scheduler
    private EngineSessionPool? _pool;
    private long _pleResidentBytes;

    /// <summary>Starts loading <paramref name="modelPath"/> in the background and returns at once.</summary>
    public EngineChatBackend(string modelPath, BackendOptions options, EngineBackendOptions? engineOptions = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentNullException.ThrowIfNull(options);
        _path = modelPath;
        _options = options;
        _engineOptions = engineOptions ?? new EngineBackendOptions();
        _descriptor = Describe(null, options.ContextLength ?? 0);
        Loaded = Task.Run(Load);
    }

    /// <summary>Completes when loading has finished, successfully or not (see <see cref="Status"/>).</summary>
    public Task Loaded { get; }

    public IReadOnlyList<ModelDescriptor> Models => [_descriptor];

    public BackendStatus Status => _status;

    public BackendStats GetStats()
    {
        if (_pool is not { } pool || _model is not { } model) return BackendStats.Empty;
        PoolStats s = pool.GetStats();
        BatchingStats batching = model.Scheduler.Stats;
        return new BackendStats(s.ActiveSessions, s.TotalKvBytes, Interlocked.Read(ref _pleResidentBytes), s.IdleSessions, s.IdleBytes, s.HitTokens)
        {
            // The decode scheduler: steps / passes is the mean batch size across concurrent sessions.
            Extra = new Dictionary<string, double>
            {
                ["decode_steps_total"] = batching.DecodeSteps,
                ["decode_passes_total"] = batching.DecodeBatches,
                ["decode_batch_largest"] = batching.LargestBatch,
                ["prefill_chunks_total"] = batching.PrefillChunks,
                ["scheduler_waiting"] = batching.Waiting,
            },
        };
    }

    public void Dispose()
    {
        Loaded.Wait();
        _pool?.Dispose();
        _model?.Dispose();
    }

    private void Load()
    {
        try
        {
            int threads = Math.Max(1, _options.Threads ?? Environment.ProcessorCount);
            EdgewiseModel model = EdgewiseModel.Load(_path, new EngineLoadOptions { Threads = threads, ChatTemplate = _engineOptions.ChatTemplate, Model = _engineOptions.Placement });
            int context = _options.ContextLength ?? Math.Min(model.Info.ContextLength, 8192);
            if (context < 1 || context > model.Info.ContextLength)
            {
                // Refused here, at load, so /health names it; otherwise every request would fail making its state.
                model.Dispose();
                throw new InvalidOperationException($"--ctx {context} is outside 1..{model.Info.ContextLength}, the model's context length.");
            }
            int parallel = Math.Max(1, _options.Parallel);
            // Generations run synchronously on pool threads; keep enough of them that Kestrel's own work never
            // waits for the pool to grow while every slot is decoding.
            ThreadPool.GetMinThreads(out int workers, out int io);
            ThreadPool.SetMinThreads(Math.Max(workers, parallel * 2 + 4), io);
            _pool = new EngineSessionPool(model, context, _engineOptions.MaxIdleSessions ?? Math.Max(4, parallel), _engineOptions.MaxIdleKvBytes);
            _pleResidentBytes = PleResidentBytes(model.Weights);
            _model = model;
            _descriptor = Describe(model.Info, context);
            _status = BackendStatus.Ready;
        }
        catch (Exception ex)
        {
            // The top of the loading task: whatever went wrong is reported through /health, never rethrown.
            _status = new BackendStatus(BackendState.Failed, $"Loading '{_path}' failed: {ex.Message}");
        }
    }

    private ModelDescriptor Describe(ModelInfo? info, int contextLength)
    {
        string fileName = Path.GetFileName(Path.TrimEndingDirectorySeparator(_path));
        string id = _engineOptions.Id ?? fileName;
        var aliases = new List<string>();
        foreach (string name in (IEnumerable<string>?)_engineOptions.Aliases ?? [])
        {
            if (!aliases.Contains(name, StringComparer.OrdinalIgnoreCase) && !string.Equals(name, id, StringComparison.OrdinalIgnoreCase)) aliases.Add(name);
        }
        foreach (string name in new[] { fileName, Path.GetFileNameWithoutExtension(fileName) })
        {
            if (!aliases.Contains(name, StringComparer.OrdinalIgnoreCase) && !string.Equals(name, id, StringComparison.OrdinalIgnoreCase)) aliases.Add(name);
        }
        bool isGemma4 = info?.Architecture is "gemma4" or "gemma4_text";
        DateTimeOffset created = File.Exists(_path) ? File.GetLastWriteTimeUtc(_path) : DateTimeOffset.UnixEpoch;
        return new ModelDescriptor(id, contextLength, created, SupportsTools: true, SupportsThinking: isGemma4)
        {
            Aliases = aliases,
            Family = info?.Architecture,
            SizeBytes = File.Exists(_path) ? new FileInfo(_path).Length : 0,
        };
    }

    /// <summary>The PLE table is memory-mapped (only touched rows are paged in); a resident copy counts in full.</summary>
    private static long PleResidentBytes(ILanguageModel model)
    {
        IPerLayerEmbeddingStore? ple = model switch
        {
            Gemma4Model gemma4 => gemma4.Weights.PerLayerEmbeddings,
            Gemma3nModel gemma3n => gemma3n.Weights.PerLayerEmbeddings,
            _ => null,
        };
        return ple is { Mode: PerLayerEmbeddingMode.Resident } ? (long)ple.RowCount * ple.RowWidth * sizeof(float) : 0;
    }
}
