using System.CommandLine;
using Edgewise.Hub;
using Edgewise.Models.Common;

namespace Edgewise.Cli.Commands;

/// <summary>
/// The load options every command that opens a model shares (<c>run</c>, <c>serve</c>, <c>bench</c>, <c>logits</c>):
/// <c>--threads</c>, <c>--ple mmap|resident|stream</c>, <c>--ple-cache 64MB</c>, <c>--weights mmap|hugepages</c>,
/// <c>--repack-cache on|off</c>, <c>--kv-cache f32|f16</c>.
/// Add them with <see cref="AddTo"/>, read them back with <see cref="Read"/>.
/// </summary>
internal sealed class ModelLoadArguments
{
    private readonly Option<int> _threads = new("--threads") { Description = "Threads (the caller included).", DefaultValueFactory = _ => Environment.ProcessorCount };
    private readonly Option<string> _ple = new("--ple")
    {
        Description = "Per-layer embedding table: mmap (read rows from the mapped file), resident (load the table), stream (positioned reads into a bounded cache).",
        DefaultValueFactory = _ => "mmap",
    };
    private readonly Option<string> _pleCache = new("--ple-cache") { Description = "Row cache of --ple stream, e.g. 64MB.", DefaultValueFactory = _ => "64MB" };
    private readonly Option<string> _weights;
    private readonly Option<string> _repackCache = new("--repack-cache")
    {
        Description = "With --weights mmap: keep Q4_0 and Q8_0 matrices interleaved, and matrices derived from the weights (Gemma 3n's transposed sparse down projections), in EDGEWISE_HOME/repacked (written once in the background, about the size of the model's non-PLE weights; mapped on later runs for hugepages-like decode speed with an instant load), or off.",
        DefaultValueFactory = _ => "on",
    };

    private readonly Option<string> _kvCache = new("--kv-cache")
    {
        Description = "Keys and values kept per position: f32 (exact), or f16 (half the memory, llama.cpp's default; each chunk of keys is widened exactly as attention reads it, so long contexts also read half the bytes).",
        DefaultValueFactory = _ => "f32",
    };

    public ModelLoadArguments()
    {
        // mmap everywhere: with the repack cache, mapped Q4_0 and Q8_0 decode as fast as the huge-page copy (Gemma 4
        // E2B Q4_0 here: 21.96 vs 19.74 tok/s) and start at once.
        _weights = new Option<string>("--weights")
        {
            Description = "Dense matrices: mmap (views of the file, Q4_0 and Q8_0 from the repack cache; instant load) or hugepages (copied into huge-page memory at load, Q4_0 and Q8_0 rows interleaved; no cache file, seconds of load).",
            DefaultValueFactory = _ => "mmap",
        };
        _ple.AcceptOnlyFromAmong("mmap", "resident", "stream");
        _weights.AcceptOnlyFromAmong("hugepages", "mmap");
        _repackCache.AcceptOnlyFromAmong("on", "off");
        _kvCache.AcceptOnlyFromAmong("f32", "f16");
        _pleCache.Validators.Add(result =>
        {
            try
            {
                PerLayerEmbeddingStore.ParseSize(result.GetValueOrDefault<string>());
            }
            catch (FormatException ex)
            {
                result.AddError(ex.Message);
            }
        });
    }

    public void AddTo(Command command)
    {
        command.Options.Add(_threads);
        command.Options.Add(_ple);
        command.Options.Add(_pleCache);
        command.Options.Add(_weights);
        command.Options.Add(_repackCache);
        command.Options.Add(_kvCache);
    }

    public ModelLoadOptions Read(ParseResult parse) => new()
    {
        Threads = parse.GetValue(_threads),
        PerLayerEmbeddings = PerLayerEmbeddingStore.ParseMode(parse.GetValue(_ple)!),
        PerLayerEmbeddingCacheBytes = PerLayerEmbeddingStore.ParseSize(parse.GetValue(_pleCache)!),
        Weights = parse.GetValue(_weights) == "mmap" ? WeightPlacement.Mapped : WeightPlacement.HugePages,
        RepackCacheDirectory = parse.GetValue(_repackCache) == "on" ? RepackCacheDirectory : null,
        KvCacheType = parse.GetValue(_kvCache) == "f16" ? KvCacheType.F16 : KvCacheType.F32,
    };

    /// <summary>Where repack caches live: beside the model store, so <c>EDGEWISE_HOME</c> moves both.</summary>
    public static string RepackCacheDirectory => Path.Combine(ModelStoreOptions.DefaultRoot(), "repacked");
}
