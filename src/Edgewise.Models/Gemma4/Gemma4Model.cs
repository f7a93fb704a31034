using System.Globalization;
using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Threading;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

/// <summary>
/// A loaded Gemma 4 text model (E2B/E4B with PLE and KV sharing, dense 12B/31B with k_eq_v, 26B-A4B MoE), one
/// class for every weight format: GGUF (F32/F16/BF16/Q8_0/Q4_0/Q4_K…) and HF safetensors. Immutable and
/// shared by every <see cref="Gemma4State"/> made from it. States share the model's worker pool, so run one
/// <c>Forward</c> at a time per model (the engine's scheduler serialises them).
/// </summary>
public sealed class Gemma4Model : ILanguageModel
{
    private readonly ITensorSource _source;
    private readonly bool _ownsPool;
    private readonly ModelLoadOptions _options;

    private Gemma4Model(ITensorSource source, Gemma4Config config, ModelLoadOptions options, string name)
    {
        _source = source;
        _options = options;
        Config = config;
        // Gemma 4 reads every dense matrix in full (no row-sparse FFN), so Q4_0 may be interleaved.
        Weights = Gemma4Weights.Load(config, new WeightReader(source, options.Weights) { InterleaveRows = true }, options);
        _ownsPool = options.Pool is null;
        Pool = options.Pool ?? new WorkerPool(Math.Max(1, options.Threads));
        Info = new ModelInfo(Gemma4Config.ArchitectureName, name, config.VocabSize, config.ContextLength, config.HiddenSize,
            config.LayerCount, new Dictionary<string, string>
            {
                ["sliding_window"] = config.SlidingWindow.ToString(CultureInfo.InvariantCulture),
                ["shared_kv_layers"] = config.SharedKvLayers.ToString(CultureInfo.InvariantCulture),
                ["per_layer_input_size"] = config.PerLayerInputSize.ToString(CultureInfo.InvariantCulture),
                ["expert_count"] = config.ExpertCount.ToString(CultureInfo.InvariantCulture),
            });
    }

    public Gemma4Config Config { get; }
    public Gemma4Weights Weights { get; }
    public ModelInfo Info { get; }
    internal WorkerPool Pool { get; }

    /// <summary>Loads from an open GGUF file, which the model then owns.</summary>
    public static Gemma4Model Load(GgufFile file, ModelLoadOptions? options = null)
    {
        Gemma4Config config = Gemma4Config.FromGguf(file);
        string name = file.GetStringOrDefault("general.name") ?? Path.GetFileNameWithoutExtension(file.FilePath);
        options ??= ModelLoadOptions.Default;
        return GgufTensorSource.LoadModel(file, options, source => new Gemma4Model(source, config, options, name));
    }

    /// <summary>Loads an HF checkpoint (directory or single file) whose <c>config.json</c> is <paramref name="config"/>.</summary>
    public static Gemma4Model LoadSafetensors(string path, JsonDocument config, ModelLoadOptions? options = null)
    {
        Gemma4Config c = Gemma4Config.FromHfConfig(config, Path.Combine(path, "config.json"));
        var source = SafetensorsTensorSource.Open(path, Gemma4TensorNames.ToHf);
        return new Gemma4Model(source, c, options ?? ModelLoadOptions.Default, Path.GetFileName(Path.TrimEndingDirectorySeparator(path)));
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

    public IModelState CreateState(int contextLength) => CreateGemma4State(contextLength);

    /// <summary>Like <see cref="CreateState"/>, typed (tests and tools reach the KV cache through it).</summary>
    public Gemma4State CreateGemma4State(int contextLength)
    {
        if (contextLength < 1 || contextLength > Config.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, $"Must be 1..{Config.ContextLength} (the model's context length).");
        }
        return new Gemma4State(this, contextLength, Math.Max(1, _options.MaxBatch), _options.KvCacheType);
    }

    public void Dispose()
    {
        if (_ownsPool) Pool.Dispose();
        Weights.PerLayerEmbeddings?.Dispose();
        _source.Dispose();
    }
}
