using System.Collections.Concurrent;
using System.Reflection;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Engine.Constraints;
using Edgewise.Engine.Scheduling;
using Edgewise.Models;
using Edgewise.Models.Common;
using Edgewise.Text.Chat;
using Edgewise.Text.Tokenization;
using Edgewise.Text.ToolCalls;

namespace Edgewise.Engine.Sessions;

/// <summary>How <see cref="EdgewiseModel.Load"/> loads a model for generation.</summary>
public sealed record EngineLoadOptions
{
    /// <summary>Threads for the kernels, the caller included.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>A Jinja chat template to use instead of the file's own (or the built-in one for its family).</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Weight and PLE placement (<c>--ple</c>, <c>--ple-cache</c>, <c>--weights</c>); null = the model layer's defaults.</summary>
    public ModelLoadOptions? Model { get; init; }

    public ModelLoadOptions ToModelLoadOptions() => (Model ?? new ModelLoadOptions()) with { Threads = Math.Max(1, Threads) };
}

/// <summary>
/// A model ready to chat: weights, tokenizer, chat template, tool-call dialect and the tokens that end a turn.
/// Immutable and shared: make one <see cref="ChatSession"/> per conversation. Sessions may run on different threads:
/// their passes go through one <see cref="BatchingModel"/>, which batches their decode steps.
/// </summary>
public sealed class EdgewiseModel : IDisposable
{
    private const int MaxCachedGrammars = 64;

    // Pieces that end a model turn in the Gemma templates: Gemma 4 <turn|>, Gemma 3/3n <end_of_turn>, and Gemma 4's
    // <|tool_response> (after a call the model hands over to the tool instead of closing its turn).
    private static readonly string[] EndOfTurnPieces = ["<turn|>", "<end_of_turn>", "<|tool_response>", "<eos>"];
    private static readonly string[] EndOfTurnKeys = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"];

    private readonly ConcurrentDictionary<string, CompiledGrammar> _grammars = new(StringComparer.Ordinal);
    private readonly Lazy<TokenTrie> _trie;
    private readonly bool _ownsModel;
    private readonly int[] _stopTokens;

    /// <param name="model">The weights.</param>
    /// <param name="tokenizer">The vocabulary of <paramref name="model"/>.</param>
    /// <param name="template">The chat template; null: the built-in one for the architecture (Gemma 4, Gemma 3n).</param>
    /// <param name="extraStopTokens">Ids that end a turn besides the tokenizer's eos and the template's end-of-turn pieces.</param>
    /// <param name="ownsModel">Dispose <paramref name="model"/> with this.</param>
    /// <remarks>
    /// <paramref name="model"/> is wrapped in a <see cref="BatchingModel"/> unless it is one already; pass one to share
    /// its scheduler between several <see cref="EdgewiseModel"/> views of the same weights.
    /// </remarks>
    public EdgewiseModel(ILanguageModel model, ITokenizer tokenizer, ChatTemplate? template = null, IEnumerable<int>? extraStopTokens = null, bool ownsModel = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabularySize > model.Info.VocabularySize)
        {
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabularySize} pieces but the model's vocabulary size is {model.Info.VocabularySize}.", nameof(tokenizer));
        }
        if (model is BatchingModel scheduler)
        {
            Scheduler = scheduler;
            _ownsModel = ownsModel;
        }
        else
        {
            // Our own wrapper: always disposed with us; it disposes the weights only when we own them.
            Scheduler = new BatchingModel(model, ownsInner: ownsModel);
            _ownsModel = true;
        }
        Tokenizer = tokenizer;
        Template = template ?? BuiltInTemplate(model.Info.Architecture);
        ToolCallParser = ToolCallParsers.ForTemplate(Template.Source);

        var stops = new SortedSet<int>();
        if (tokenizer.EosId >= 0) stops.Add(tokenizer.EosId);
        foreach (string piece in EndOfTurnPieces)
        {
            if (tokenizer.PieceToId(piece) is int id) stops.Add(id);
        }
        foreach (int id in extraStopTokens ?? [])
        {
            if ((uint)id >= (uint)tokenizer.VocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(extraStopTokens), id, $"stop token outside the vocabulary of {tokenizer.VocabularySize}");
            }
            stops.Add(id);
        }
        _stopTokens = [.. stops];
        _trie = new Lazy<TokenTrie>(() => TokenTrie.Build(tokenizer, id => IsMarkupToken(tokenizer, id)), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The model sessions run on: the <see cref="Scheduler"/> over the weights.</summary>
    public ILanguageModel Model => Scheduler;

    /// <summary>The decode scheduler every session of this model goes through.</summary>
    public BatchingModel Scheduler { get; }

    /// <summary>The weights themselves (for gauges such as PLE residency; run passes through <see cref="Model"/>).</summary>
    public ILanguageModel Weights => Scheduler.Inner;

    public ITokenizer Tokenizer { get; }

    public ChatTemplate Template { get; }

    public IToolCallParser ToolCallParser { get; }

    /// <summary>Token ids that end a turn (sorted): eos, end-of-turn pieces, and the file's eot/eom ids.</summary>
    public IReadOnlyList<int> StopTokens => _stopTokens;

    public ModelInfo Info => Model.Info;

    /// <summary>The file or directory the model came from, when loaded by <see cref="Load"/>.</summary>
    public string? SourcePath { get; private init; }

    /// <summary>
    /// Loads a GGUF file or a safetensors checkpoint with its tokenizer and chat template. End-of-turn ids come from the
    /// file (<c>tokenizer.ggml.eos_token_id</c>, <c>eot_token_id</c>, <c>eom_token_id</c>) and the template's pieces.
    /// </summary>
    public static EdgewiseModel Load(string path, EngineLoadOptions? options = null)
    {
        options ??= new EngineLoadOptions();
        // The vocabulary (a few hundred thousand strings, hashed) and the weights are independent: read the
        // tokenizer on another thread while the model loads, so a cold start waits for the longer of the two.
        Task<(GemmaTokenizer Tokenizer, List<int> FileStops, string? TemplateSource)> text =
            Task.Run(() => LoadText(path, options.ChatTemplate));
        ILanguageModel model;
        try
        {
            model = Architectures.Load(path, options.ToModelLoadOptions());
        }
        catch
        {
            // Observe the tokenizer's outcome too, so its own failure (if any) is not left unobserved.
            try { text.Wait(); } catch (AggregateException) { }
            throw;
        }
        try
        {
            (GemmaTokenizer tokenizer, List<int> fileStops, string? templateSource) = text.GetAwaiter().GetResult();
            ChatTemplate? template = templateSource is null ? null : new ChatTemplate(templateSource, Piece(tokenizer, tokenizer.BosId, "<bos>"), Piece(tokenizer, tokenizer.EosId, "<eos>"));
            fileStops.RemoveAll(id => (uint)id >= (uint)tokenizer.VocabularySize);
            return new EdgewiseModel(model, tokenizer, template, fileStops) { SourcePath = path };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The tokenizer, the file's end-of-turn ids and the chat template source of a GGUF file or HF checkpoint.</summary>
    private static (GemmaTokenizer Tokenizer, List<int> FileStops, string? TemplateSource) LoadText(string path, string? templateSource)
    {
        GemmaTokenizer tokenizer;
        var fileStops = new List<int>();
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            using GgufFile gguf = GgufFile.Open(path);
            tokenizer = GemmaTokenizer.FromGguf(gguf);
            foreach (string key in EndOfTurnKeys)
            {
                if (gguf.ContainsKey(key)) fileStops.Add(gguf.GetInt32(key));
            }
        }
        else
        {
            string dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
            tokenizer = GemmaTokenizer.Load(dir);
            string config = Path.Combine(dir, "tokenizer_config.json");
            if (templateSource is null && File.Exists(config))
            {
                templateSource = Text.Chat.ChatTemplate.FromTokenizerConfig(File.ReadAllText(config)).Source;
            }
        }
        return (tokenizer, fileStops, templateSource ?? tokenizer.ChatTemplate);
    }

    /// <summary>Makes a conversation with its own KV cache of <paramref name="contextLength"/> tokens (default: the model's, at most 8192).</summary>
    public ChatSession CreateSession(int? contextLength = null) => new(this, contextLength ?? Math.Min(Info.ContextLength, 8192));

    /// <summary>True when <paramref name="id"/> ends a turn.</summary>
    public bool IsStopToken(int id)
    {
        // A handful of ids: a linear scan beats a set and allocates nothing.
        foreach (int stop in _stopTokens)
        {
            if (stop == id) return true;
        }
        return false;
    }

    /// <summary>
    /// Compiles (and caches) the grammar a turn with <paramref name="options"/> will use, so a schema the compiler refuses
    /// fails here, before any prefill; the turn later finds it in the cache.
    /// </summary>
    /// <param name="chat">A chat turn (tool choice applies), not a raw completion.</param>
    /// <exception cref="GrammarException">The response format's schema or the tools cannot be compiled.</exception>
    public void PrepareConstraints(GenerationOptions options, bool chat = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ = ChatSession.CreateGrammar(this, options, chat);
    }

    /// <summary>True for control tokens and Gemma 4's user-defined markup pieces (channel and call delimiters).</summary>
    internal bool IsMarkup(int id) => Tokenizer.IsSpecial(id) || IsMarkupToken(Tokenizer, id);

    /// <summary>The vocabulary trie behind every grammar of this model (built on first use).</summary>
    public TokenTrie TokenTrie => _trie.Value;

    /// <summary>
    /// A grammar bound to this vocabulary, compiled once per <paramref name="key"/> and shared: its automaton and token
    /// masks are reused by every later request with the same constraint.
    /// </summary>
    public CompiledGrammar GetGrammar(string key, Func<Grammar> build)
    {
        if (_grammars.TryGetValue(key, out CompiledGrammar? cached)) return cached;
        if (_grammars.Count >= MaxCachedGrammars) _grammars.Clear();
        return _grammars.GetOrAdd(key, _ => new CompiledGrammar(build(), TokenTrie, StopTokens));
    }

    public void Dispose()
    {
        if (_ownsModel) Scheduler.Dispose();
    }

    /// <summary>
    /// Gemma 4's user-defined markup pieces (<c>&lt;|tool_call&gt;</c>, <c>&lt;|"|&gt;</c>, <c>&lt;channel|&gt;</c>) are
    /// matched whole by the tokenizer though not typed control; grammars must treat them as tokens too.
    /// </summary>
    private static bool IsMarkupToken(ITokenizer tokenizer, int id)
    {
        if (tokenizer is not GemmaTokenizer gemma || gemma.GetTokenType(id) != TokenType.UserDefined) return false;
        string piece = gemma.TokenPiece(id);
        return piece.Length > 2 && (piece.StartsWith("<|", StringComparison.Ordinal) || piece.EndsWith("|>", StringComparison.Ordinal));
    }

    private static string Piece(ITokenizer tokenizer, int id, string fallback) => id >= 0 ? tokenizer.TokenPiece(id) : fallback;

    /// <summary>
    /// The family's official template, shipped for files that carry none (synthetic models, some conversions):
    /// Google's Gemma 4 E2B-it and Gemma 3n-it templates as published on the Hub.
    /// </summary>
    public static ChatTemplate BuiltInTemplate(string architecture)
    {
        string name = architecture switch
        {
            "gemma4" or "gemma4_text" => "gemma4.jinja",
            "gemma3n" or "gemma3n_text" or "gemma3" or "gemma3_text" => "gemma3n.jinja",
            _ => throw new NotSupportedException($"No built-in chat template for architecture '{architecture}'; pass one (EngineLoadOptions.ChatTemplate)."),
        };
        Assembly assembly = typeof(EdgewiseModel).Assembly;
        using Stream stream = assembly.GetManifestResourceStream("Edgewise.Engine.Templates." + name)
            ?? throw new InvalidOperationException($"The engine assembly lacks its embedded template {name}.");
        using var reader = new StreamReader(stream);
        return new ChatTemplate(reader.ReadToEnd());
    }
}
