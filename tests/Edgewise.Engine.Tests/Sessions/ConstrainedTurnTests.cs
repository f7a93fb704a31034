using System.Text.Json;
using Edgewise.Engine.Constraints;
using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Edgewise.Engine.Tests.Constraints;
using Edgewise.Text.Chat;
using Xunit;

namespace Edgewise.Engine.Tests.Sessions;

/// <summary>Constraints through the whole session path: template, prefill, grammar mask, sampling, detokenizing, parsing.</summary>
public sealed class ConstrainedTurnTests : IClassFixture<SyntheticModel>
{
    private const string PersonSchema = """{"type":"object","properties":{"name":{"type":"string","maxLength":6},"age":{"type":"integer"},"ok":{"type":"boolean"},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},"required":["name","age","ok"],"additionalProperties":false}""";

    private readonly EdgewiseModel _model;

    public ConstrainedTurnTests(SyntheticModel synthetic) => _model = synthetic.Model;

    /// <summary>
    /// Random weights put most of their mass on a few tokens, so an unbounded value (an integer's digits, up to eight
    /// whitespace characters per slot) can outlive any budget. A bias toward closers and away from whitespace makes
    /// most runs end; the mask still decides what is possible, so every finished output must validate.
    /// </summary>
    private Dictionary<int, float> TerminationBias()
    {
        var bias = new Dictionary<int, float>();
        foreach (string piece in new[] { ",", "}", "]", "\"" })
        {
            if (_model.Tokenizer.PieceToId(piece) is int id) bias[id] = 4f;
        }
        foreach (string piece in new[] { "\u2581", "\n", "<0x20>", "<0x0A>", "<0x09>", "<0x0D>" })
        {
            if (_model.Tokenizer.PieceToId(piece) is int id) bias[id] = -6f;
        }
        return bias;
    }

    [Fact]
    public async Task SchemaConstrainedOutput_ValidatesOverHundredsOfSeeds()
    {
        var schema = ConstrainedRun.Schema(PersonSchema);
        Dictionary<int, float> bias = TerminationBias();
        using ChatSession session = _model.CreateSession(512);
        List<ChatMessage> messages = [ChatMessage.User("Describe a person as JSON.")];
        int finished = 0;
        const int Seeds = 200;
        for (ulong seed = 0; seed < Seeds; seed++)
        {
            var options = new GenerationOptions
            {
                Sampling = new SamplingOptions { Temperature = 1.5f, Seed = seed, LogitBias = bias },
                ResponseFormat = ResponseFormat.ForSchema(PersonSchema),
                MaxTokens = 96,
            };
            TurnResult r = await TurnResult.Of(session.GenerateAsync(messages, options));
            Assert.True(r.Usage.CachedTokens == r.Usage.PromptTokens - 1 || seed == 0, "the shared prompt is prefilled once");
            if (r.Usage.FinishReason == FinishReason.Length) continue;
            finished++;
            Assert.Equal(FinishReason.Stop, r.Usage.FinishReason);
            Assert.True(ConstrainedRun.Validates(schema, r.Text, out string detail), $"seed {seed}: {r.Text}\n{detail}");
        }
        Assert.True(finished >= Seeds * 3 / 4, $"only {finished} of {Seeds} outputs completed within 96 tokens");
    }

    [Fact]
    public async Task JsonObjectMode_GivesAnObject()
    {
        using ChatSession session = _model.CreateSession(512);
        var bias = new[] { "}", "\"" }.Select(p => _model.Tokenizer.PieceToId(p)!.Value).ToDictionary(id => id, _ => 3f);
        var options = new GenerationOptions { Sampling = new SamplingOptions { Seed = 3, LogitBias = bias }, ResponseFormat = ResponseFormat.JsonObject, MaxTokens = 200 };
        int objects = 0;
        for (ulong seed = 0; seed < 20; seed++)
        {
            TurnResult r = await TurnResult.Of(session.GenerateAsync([ChatMessage.User("json please")], options with { Sampling = options.Sampling with { Seed = seed } }));
            if (r.Usage.FinishReason == FinishReason.Length) continue;
            using var doc = JsonDocument.Parse(r.Text);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            objects++;
        }
        Assert.True(objects >= 10, $"only {objects} of 20 finished");
    }

    private static readonly ToolDefinition Weather = new("get_weather", "Current weather in a city",
        """{"type":"object","properties":{"city":{"type":"string","maxLength":10},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"]}""");

    private static readonly ToolDefinition Time = new("get_time", "Current time", null);

    [Fact]
    public async Task NamedToolChoice_ForcesOneCallOfThatTool_StreamedAsToolCallUpdates()
    {
        using ChatSession session = _model.CreateSession(512);
        var argsSchema = ConstrainedRun.Schema(Weather.ParametersSchema!);
        for (ulong seed = 0; seed < 20; seed++)
        {
            var options = new GenerationOptions
            {
                Sampling = new SamplingOptions { Seed = seed },
                Tools = [Weather, Time],
                ToolChoice = ToolChoice.Function("get_weather"),
                MaxTokens = 80,
            };
            TurnResult r = await TurnResult.Of(session.GenerateAsync([ChatMessage.User("weather in Paris?")], options));
            if (r.Usage.FinishReason == FinishReason.Length) continue;
            Assert.Equal(FinishReason.ToolCalls, r.Usage.FinishReason);
            var call = Assert.Single(r.Calls);
            Assert.Equal("get_weather", call.Name);
            Assert.True(ConstrainedRun.Validates(argsSchema, call.Arguments, out string detail), $"seed {seed}: {call.Arguments}\n{detail}");
            Assert.Equal("", r.Text.Trim());

            var kinds = r.Updates.Select(u => u.Kind).Where(k => k != GenerationUpdateKind.Text).ToList();
            Assert.Equal(GenerationUpdateKind.ToolCallStart, kinds[0]);
            Assert.Equal(GenerationUpdateKind.ToolCallEnd, kinds[^2]);
            Assert.Equal(GenerationUpdateKind.Finished, kinds[^1]);
            Assert.StartsWith("call_", r.Updates.First(u => u.Kind == GenerationUpdateKind.ToolCallStart).ToolCallId, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ToolChoiceNone_NeverCalls_AndToolResultsRenderBack()
    {
        using ChatSession session = _model.CreateSession(512);
        var none = new GenerationOptions { Sampling = new SamplingOptions { Seed = 1 }, Tools = [Weather], ToolChoice = ToolChoice.None, MaxTokens = 30 };
        // Push the model toward the call token: the grammar must still forbid it.
        int callToken = _model.Tokenizer.PieceToId("<|tool_call>")!.Value;
        none = none with { Sampling = none.Sampling with { LogitBias = new Dictionary<int, float> { [callToken] = 50f } } };
        List<ChatMessage> messages =
        [
            ChatMessage.User("weather in Paris?"),
            ChatMessage.Assistant(null, new ToolCall("call_1", "get_weather", """{"city":"Paris","unit":"celsius"}""")),
            ChatMessage.ToolResult("call_1", """{"temperature":21}""", "get_weather"),
        ];
        string prompt = session.RenderPrompt(messages, none);
        Assert.Contains("<|tool_response>", prompt, StringComparison.Ordinal);
        TurnResult r = await TurnResult.Of(session.GenerateAsync(messages, none));
        Assert.Empty(r.Calls);
        Assert.NotEqual(FinishReason.ToolCalls, r.Usage.FinishReason);
    }
}
