using System.Globalization;
using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Threading;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma3n;

/// <summary>
/// A loaded Gemma 3n text model (E2B / E4B: AltUp, LAuReL, PLE, KV sharing, activation-sparse FFNs), one class
/// for every weight format: GGUF (F32/F16/BF16/Q8_0/Q4_0/Q4_K…) and HF safetensors. Immutable and shared by
/// every <see cref="Gemma3nState"/> made from it.
/// </summary>
public sealed class Gemma3nModel : ILanguageModel
{
    private readonly ITensorSource _source;
    private readonly bool _ownsPool;
    private readonly ModelLoadOptions _options;

    private Gemma3nModel(ITensorSource source, Gemma3nConfig config, ModelLoadOptions options, string name, Gemma3nOptions gemma3n)
    {
        _source = source;
        _options = options;
        Config = config;
        Options = gemma3n;
        Weights = Gemma3nWeights.Load(config, new WeightReader(source, options.Weights) { InterleaveRows = true }, gemma3n.SparseDecode, options);
        _ownsPool = options.Pool is null;
        Pool = options.Pool ?? new WorkerPool(Math.Max(1, options.Threads));
        int sparseLayers = 0;
        for (int i = 0; i < config.LayerCount; i++) sparseLayers += config.IsSparse(i) ? 1 : 0;
        Info = new ModelInfo(Gemma3nConfig.ArchitectureName, name, config.VocabSize, config.ContextLength, config.HiddenSize,
            config.LayerCount, new Dictionary<string, string>
            {
                ["sliding_window"] = config.SlidingWindow.ToString(CultureInfo.InvariantCulture),
                ["shared_kv_layers"] = config.SharedKvLayers.ToString(CultureInfo.InvariantCulture),
                ["per_layer_input_size"] = config.PerLayerInputSize.ToString(CultureInfo.InvariantCulture),
                ["altup_num_inputs"] = config.AltUpInputs.ToString(CultureInfo.InvariantCulture),
                ["sparse_layers"] = sparseLayers.ToString(CultureInfo.InvariantCulture),
                ["sparse_down_bytes"] = Weights.SparseDownBytes.ToString(CultureInfo.InvariantCulture),
            });
    }

    public Gemma3nConfig Config { get; }
    public Gemma3nWeights Weights { get; }
    public ModelInfo Info { get; }
    internal WorkerPool Pool { get; }

    /// <summary>True when sparse layers carry their transposed down projection, so single-token decode can skip pruned units.</summary>
    public bool HasSparseDecode => Options.SparseDecode;

    public Gemma3nOptions Options { get; }

    /// <summary>Loads from an open GGUF file, which the model then owns.</summary>
    public static Gemma3nModel Load(GgufFile file, ModelLoadOptions? options = null, Gemma3nOptions? gemma3n = null)
    {
        Gemma3nConfig config = Gemma3nConfig.FromGguf(file);
        string name = file.GetStringOrDefault("general.name") ?? Path.GetFileNameWithoutExtension(file.FilePath);
        options ??= ModelLoadOptions.Default;
        return GgufTensorSource.LoadModel(file, options, source => new Gemma3nModel(source, config, options, name, gemma3n ?? Gemma3nOptions.Default));
    }

    /// <summary>Loads an HF checkpoint (directory or single file) whose <c>config.json</c> is <paramref name="config"/>.</summary>
    public static Gemma3nModel LoadSafetensors(string path, JsonDocument config, ModelLoadOptions? options = null, Gemma3nOptions? gemma3n = null)
    {
        string dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        var source = SafetensorsTensorSource.Open(path, Gemma3nTensorNames.ToHf);
        try
        {
            Gemma3nConfig c = Gemma3nConfig.FromHfConfig(config, new WeightReader(source), Path.Combine(dir, "config.json"));
            return new Gemma3nModel(source, c, options ?? ModelLoadOptions.Default, Path.GetFileName(Path.TrimEndingDirectorySeparator(dir)), gemma3n ?? Gemma3nOptions.Default);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="ModelLoadOptions.MaxBatch"/>: a batched decode step is one chunk of a state's run buffers, one row
    /// per sequence, so it takes as many sequences as a prompt chunk takes tokens.
    /// </summary>
    public int MaxBatchSequences => Math.Max(1, _options.MaxBatch);

    /// <summary>
    /// One token for each of <paramref name="states"/> in one pass over the weights: the rows go through every
    /// matmul together while RoPE, the KV write and attention of each use its own state's cache at its own position.
    /// Runs on the buffers of <c>states[0]</c>; like <c>Forward</c>, one call at a time per model.
    /// </summary>
    /// <exception cref="ArgumentException">A count mismatch, more than <see cref="MaxBatchSequences"/> states, a state
    /// made by another model, or the same state twice.</exception>
    /// <exception cref="InvalidOperationException">A state whose context is full.</exception>
    public void ForwardBatch(ReadOnlySpan<IModelState> states, ReadOnlySpan<int> tokens, Span<float> logits) =>
        ChunkedModelState.ForwardBatch(this, states, tokens, logits);

    public IModelState CreateState(int contextLength) => CreateGemma3nState(contextLength);

    /// <summary>Like <see cref="CreateState"/>, typed (tests and tools reach the KV cache and the sparse switch through it).</summary>
    public Gemma3nState CreateGemma3nState(int contextLength)
    {
        if (contextLength < 1 || contextLength > Config.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, $"Must be 1..{Config.ContextLength} (the model's context length).");
        }
        return new Gemma3nState(this, contextLength, Math.Max(1, _options.MaxBatch), _options.KvCacheType);
    }

    public void Dispose()
    {
        if (_ownsPool) Pool.Dispose();
        Weights.PerLayerEmbeddings.Dispose();
        _source.Dispose();
    }
}

/// <summary>Gemma 3n-specific load choices.</summary>
public sealed record Gemma3nOptions
{
    /// <summary>
    /// Keep a transposed copy of <c>ffn_down</c> for activation-sparse layers (memory: see
    /// <see cref="Gemma3nWeights.SparseDownBytes"/>; mapped from the repack cache when it holds them) so single-token
    /// decode reads only surviving units.
    /// </summary>
    public bool SparseDecode { get; init; } = true;

    /// <summary>
    /// Gaussian top-k with llama.cpp's n − 1 std instead of HF's population std. Off by default (HF defines the
    /// model); conformance tests against llama.cpp turn it on, since at test-model widths the two differ visibly.
    /// </summary>
    public bool SparsityStdLikeLlamaCpp { get; init; }

    public static Gemma3nOptions Default { get; } = new();
}
