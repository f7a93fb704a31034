using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Edgewise.Server.Backend;

namespace Edgewise.Server.Tests.Support;

/// <summary>
/// A deterministic stand-in for the engine, for HTTP-layer tests only. It answers from the request
/// alone: echoes the last user turn word by word, calls the tool the request forces (arguments built
/// from the tool's schema, as constrained decoding would), emits schema-shaped JSON for
/// <c>json_schema</c>, streams reasoning when thinking is on. A "token" is one word; each waits
/// <see cref="TokenDelay"/> and checks cancellation, as a real decode step would.
/// </summary>
public sealed class ScriptedBackend : IChatBackend
{
    private int _activeSessions;
    private int _cancelled;
    private int _tokensAfterCancel;

    public ScriptedBackend(int contextLength = 4096, TimeSpan? tokenDelay = null)
    {
        Models =
        [
            new ModelDescriptor("gemma-test", contextLength, new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero), SupportsTools: true, SupportsThinking: true)
            {
                Aliases = ["test", "gemma-test.gguf"],
                Family = "gemma4",
                ParameterSize = "5.1B",
                Quantization = "Q4_K",
                SizeBytes = 3_100_000_000,
                Digest = "sha256:0123456789abcdef",
            },
        ];
        TokenDelay = tokenDelay ?? TimeSpan.FromMilliseconds(2);
    }

    public IReadOnlyList<ModelDescriptor> Models { get; }

    public BackendStatus Status { get; set; } = BackendStatus.Ready;

    public TimeSpan TokenDelay { get; set; }

    /// <summary>Time before the first event, as a long prompt's prefill takes (keep-alive tests).</summary>
    public TimeSpan PrefillDelay { get; set; }

    /// <summary>Thrown after <see cref="PrefillDelay"/>, as an engine failing during prefill would.</summary>
    public Exception? PrefillError { get; set; }

    /// <summary>When set, every answer is this many words long (load and disconnect tests).</summary>
    public int? FixedAnswerWords { get; set; }

    public ConcurrentQueue<GenerationRequest> Requests { get; } = new();

    public int ActiveSessions => Volatile.Read(ref _activeSessions);

    public int CancelledSessions => Volatile.Read(ref _cancelled);

    /// <summary>Tokens emitted after the token was cancelled (must stay 0: cancellation is checked before each token).</summary>
    public int TokensAfterCancel => Volatile.Read(ref _tokensAfterCancel);

    public BackendStats GetStats() =>
        new(ActiveSessions, KvCacheBytes: 1 << 20, PleResidentBytes: 2 << 20, PrefixCacheEntries: 3, PrefixCacheBytes: 4096, PrefixCacheHitTokens: 7)
        {
            Extra = new Dictionary<string, double> { ["scripted_requests_total"] = Requests.Count },
        };

    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Validation happens before the first event, as the port requires.
        var promptTokens = CountWords(request);
        var context = Models[0].ContextLength;
        if (promptTokens + (request.MaxTokens ?? 0) > context || promptTokens >= context)
            throw new ContextOverflowException(promptTokens, request.MaxTokens ?? 0, context);
        if (request.Messages.Any(m => m.Content.Any(p => p.Kind == ContentPartKind.Audio)))
            throw new UnsupportedRequestException("messages", "This model does not accept audio input.");
        Requests.Enqueue(request);

        if (PrefillDelay > TimeSpan.Zero)
            await Task.Delay(PrefillDelay, cancellationToken);
        if (PrefillError is { } failure)
            throw failure;

        Interlocked.Increment(ref _activeSessions);
        var clock = Stopwatch.StartNew();
        var completion = 0;
        var reasoning = 0;
        try
        {
            for (var choice = 0; choice < request.ChoiceCount; choice++)
            {
                var steps = Plan(request);
                var finish = FinishReason.Stop;
                var emitted = 0;
                var text = new StringBuilder();
                foreach (var step in steps)
                {
                    if (request.MaxTokens is { } max && emitted >= max)
                    {
                        finish = FinishReason.Length;
                        break;
                    }

                    await Step(cancellationToken);
                    emitted++;
                    if (step is TextDeltaEvent t)
                    {
                        text.Append(t.Text);
                        var full = text.ToString();
                        var stopAt = request.Stop.Select(s => full.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
                        if (stopAt >= 0)
                        {
                            var keep = stopAt - (full.Length - t.Text.Length);
                            if (keep > 0)
                                yield return new TextDeltaEvent(choice, t.Text[..keep]);
                            break;
                        }

                        yield return new TextDeltaEvent(choice, t.Text, request.Logprobs ? Logprobs(t.Text, request.TopLogprobs) : null);
                    }
                    else
                    {
                        if (step is ReasoningDeltaEvent)
                            reasoning++;
                        if (step is ToolCallEndEvent)
                            finish = FinishReason.ToolCalls;
                        yield return step with { Choice = choice };
                    }
                }

                completion += emitted;
                yield return new FinishedEvent(choice, finish);
            }

            yield return new UsageEvent(new GenerationUsage(promptTokens, completion, CachedPromptTokens: promptTokens / 2, ReasoningTokens: reasoning,
                PrefillTime: TimeSpan.FromMilliseconds(promptTokens * 0.1), DecodeTime: clock.Elapsed));
        }
        finally
        {
            if (cancellationToken.IsCancellationRequested)
                Interlocked.Increment(ref _cancelled);
            Interlocked.Decrement(ref _activeSessions);
        }
    }

    private async Task Step(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (TokenDelay > TimeSpan.Zero)
            await Task.Delay(TokenDelay, cancellationToken);
        if (cancellationToken.IsCancellationRequested)
            Interlocked.Increment(ref _tokensAfterCancel);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private List<GenerationEvent> Plan(GenerationRequest request)
    {
        var steps = new List<GenerationEvent>();
        if (request.EnableThinking)
            steps.AddRange(Words("Let me think about this.").Select(w => new ReasoningDeltaEvent(0, w)));

        var last = request.Messages.Count > 0 ? request.Messages[^1] : null;
        var forced = request.ToolChoice.Mode is ToolChoiceMode.Required or ToolChoiceMode.Function;
        var wantsTool = request.Tools.Count > 0 && request.ToolChoice.Mode != ToolChoiceMode.None && last?.Role != MessageRole.Tool
            && (forced || last?.Text.Contains("weather", StringComparison.OrdinalIgnoreCase) == true);
        if (wantsTool)
        {
            var tools = request.ToolChoice.Mode == ToolChoiceMode.Function
                ? request.Tools.Where(t => t.Name == request.ToolChoice.FunctionName).ToList()
                : request.Tools.Take(request.ParallelToolCalls && last?.Text.Contains(" and ", StringComparison.Ordinal) == true ? 2 : 1).ToList();
            for (var i = 0; i < tools.Count; i++)
            {
                steps.Add(new ToolCallStartEvent(0, i, $"call_scripted{i}", tools[i].Name));
                var args = tools[i].Parameters is { } p ? SchemaSample.Generate(p) : "{}";
                foreach (var piece in Chunks(args, 7))
                    steps.Add(new ToolCallArgumentsEvent(0, i, piece));
                steps.Add(new ToolCallEndEvent(0, i));
            }

            return steps;
        }

        string answer;
        if (request.ResponseFormat.Kind == ResponseFormatKind.JsonSchema)
            answer = SchemaSample.Generate(request.ResponseFormat.Schema!.Value);
        else if (request.ResponseFormat.Kind == ResponseFormatKind.JsonObject)
            answer = "{\"answer\": \"yes\"}";
        else if (FixedAnswerWords is { } n)
            answer = string.Join(' ', Enumerable.Range(0, n).Select(i => $"w{i}"));
        else if (last?.Role == MessageRole.Tool)
            answer = $"The tool {last.ToolName} said: {last.Text}";
        else if (request.Prompt is not null)
            answer = (request.Echo ? request.Prompt : "") + " and so on.";
        else
            answer = "Echo: " + (last?.Text ?? "");

        steps.AddRange(Words(answer).Select(w => new TextDeltaEvent(0, w)));
        return steps;
    }

    private static IEnumerable<string> Words(string text)
    {
        var start = 0;
        for (var i = 1; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == ' ')
            {
                yield return text[start..i];
                start = i;
            }
        }
    }

    private static IEnumerable<string> Chunks(string text, int size)
    {
        for (var i = 0; i < text.Length; i += size)
            yield return text.Substring(i, Math.Min(size, text.Length - i));
    }

    private static List<TokenLogprob> Logprobs(string token, int top)
    {
        var alternatives = Enumerable.Range(0, top).Select(i => new TopLogprob(i == 0 ? token : $"alt{i}", -0.25f * (i + 1), Encoding.UTF8.GetBytes(i == 0 ? token : $"alt{i}"))).ToList();
        return [new TokenLogprob(token, -0.25f, Encoding.UTF8.GetBytes(token), alternatives)];
    }

    private static int CountWords(GenerationRequest request)
    {
        var text = request.Prompt ?? string.Join(' ', request.Messages.Select(m => m.Text + " " + string.Join(' ', m.ToolCalls.Select(c => c.ArgumentsJson))));
        return text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length + 4 * request.Messages.Count + 1;
    }
}

/// <summary>Builds the smallest JSON value a schema accepts (the stand-in for grammar-constrained decoding).</summary>
public static class SchemaSample
{
    public static string Generate(JsonElement schema)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
            Write(schema, schema, writer);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Write(JsonElement root, JsonElement schema, Utf8JsonWriter writer)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            var target = root;
            foreach (var segment in reference.GetString()![2..].Split('/'))
                target = target.GetProperty(segment);
            Write(root, target, writer);
            return;
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            values[0].WriteTo(writer);
            return;
        }

        if (schema.TryGetProperty("anyOf", out var anyOf))
        {
            Write(root, anyOf[0], writer);
            return;
        }

        var type = schema.TryGetProperty("type", out var t) ? (t.ValueKind == JsonValueKind.Array ? t[0].GetString() : t.GetString()) : "object";
        switch (type)
        {
            case "object":
                writer.WriteStartObject();
                if (schema.TryGetProperty("properties", out var properties))
                {
                    foreach (var property in properties.EnumerateObject())
                    {
                        writer.WritePropertyName(property.Name);
                        Write(root, property.Value, writer);
                    }
                }

                writer.WriteEndObject();
                break;
            case "array":
                writer.WriteStartArray();
                if (schema.TryGetProperty("items", out var items))
                    Write(root, items, writer);
                writer.WriteEndArray();
                break;
            case "string":
                writer.WriteStringValue("Paris");
                break;
            case "integer":
                writer.WriteNumberValue(schema.TryGetProperty("minimum", out var min) ? min.GetInt64() : 3);
                break;
            case "number":
                writer.WriteNumberValue(18.5);
                break;
            case "boolean":
                writer.WriteBooleanValue(true);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }
}
