using Edgewise.Text.ToolCalls;
using Xunit;

namespace Edgewise.Text.Tests.ToolCalls;

public sealed class Gemma4ToolCallParserTests
{
    private const string Q = "<|\"|>";

    /// <summary>
    /// input, expected content, expected reasoning, expected calls ("name=json" joined by " | "),
    /// diagnostics expected: "" none, "repaired" only repaired ones, "unrepaired" at least one not repaired.
    /// </summary>
    public static TheoryData<string, string, string, string, string> Cases() => new()
    {
        { "Hello there.", "Hello there.", "", "", "" },
        { "a < b and <b>bold</b> <|image|>", "a < b and <b>bold</b> <|image|>", "", "", "" },
        { "<|channel>thought\nLet me think.<channel|>The answer is 4.", "The answer is 4.", "Let me think.", "", "" },
        { $"<|tool_call>call:get_weather{{city:{Q}Paris{Q},unit:{Q}C{Q}}}<tool_call|>", "", "", "get_weather={\"city\":\"Paris\",\"unit\":\"C\"}", "" },
        {
            $"<|tool_call>call:search_flights{{classes:[{Q}economy{Q},{Q}business{Q}],direct_only:true,max_price:1250.5,passengers:2,route:{{from:{Q}CDG{Q},to:{Q}JFK{Q}}},seat:null,temps:[-3.5e2,0,[]]}}<tool_call|>",
            "", "",
            "search_flights={\"classes\":[\"economy\",\"business\"],\"direct_only\":true,\"max_price\":1250.5,\"passengers\":2,\"route\":{\"from\":\"CDG\",\"to\":\"JFK\"},\"seat\":null,\"temps\":[-350,0,[]]}",
            ""
        },
        {
            $"<|channel>thought\nNeed both.<channel|><|tool_call>call:get_weather{{city:{Q}Paris{Q}}}<tool_call|><|tool_call>call:get_weather{{city:{Q}Zürich 🙂{Q}}}<tool_call|>",
            "", "Need both.", "get_weather={\"city\":\"Paris\"} | get_weather={\"city\":\"Zürich 🙂\"}", ""
        },
        { $"Sure.<|tool_call>call:get_time{{}}<tool_call|><|tool_response>", "Sure.", "", "get_time={}", "" },
        { $"<|tool_call>call:note{{text:{Q}say \"hi\"\nC:\\path {{x}}, [y] <b>{Q}}}<tool_call|>", "", "", "note={\"text\":\"say \\\"hi\\\"\\nC:\\\\path {x}, [y] <b>\"}", "" },
        { $"<|tool_call>call:a{{}}call:b{{x:1}}<tool_call|>", "", "", "a={} | b={\"x\":1}", "" },
        // Malformed but repairable.
        { $"<|tool_call>call:get_weather{{city:{Q}Paris{Q}", "", "", "get_weather={\"city\":\"Paris\"}", "repaired" },
        { $"<|tool_call>call:get_weather{{city:{Q}Paris{Q},loc:{{lat:1.5", "", "", "get_weather={\"city\":\"Paris\",\"loc\":{\"lat\":1.5}}", "repaired" },
        { $"<|tool_call>call:get_weather{{city:{Q}Paris{Q}}}<turn|>", "", "", "get_weather={\"city\":\"Paris\"}", "repaired" },
        { $"<|tool_call>call:get_weather{{city:{Q}Paris{Q}}}", "", "", "get_weather={\"city\":\"Paris\"}", "repaired" },
        { $"<|tool_call>call:get_weather{{city:{Q}Par", "", "", "get_weather={\"city\":\"Par\"}", "repaired" },
        { $"<|tool_call>call:get_weather{{city:{Q}Paris}}<tool_call|>", "", "", "get_weather={\"city\":\"Paris\"}", "repaired" },
        { $"<|tool_call>call:f{{q:{{text:{Q}a]b}} c}}}}", "", "", "f={\"q\":{\"text\":\"a]b} c\"}}", "repaired" },
        { $"<|tool_call>call:f{{code:{Q}{{x}}{Q},list:[{Q}]{Q}]}}<tool_call|>", "", "", "f={\"code\":\"{x}\",\"list\":[\"]\"]}", "" },
        { "<|tool_call>call:f{\"city\":\"Paris\",\"n\":3}<tool_call|>", "", "", "f={\"city\":\"Paris\",\"n\":3}", "repaired" },
        { "<|tool_call>call:f{city:'Paris \\'Left Bank\\'',ok:True,x:None}<tool_call|>", "", "", "f={\"city\":\"Paris 'Left Bank'\",\"ok\":true,\"x\":null}", "repaired" },
        { "<|tool_call>call:f{ city : Paris , n : 3 , }<tool_call|>", "", "", "f={\"city\":\"Paris\",\"n\":3}", "repaired" },
        { $"<|tool_call>get_weather{{city:{Q}Paris{Q}}}<tool_call|>", "", "", "get_weather={\"city\":\"Paris\"}", "repaired" },
        { "<|tool_call>call:f{list:[1,2}<tool_call|>", "", "", "f={\"list\":[1,2]}", "repaired" },
        { "<|tool_call>call:f{n:+5,m:.5}<tool_call|>", "", "", "f={\"n\":5,\"m\":0.5}", "repaired" },
        { "<|channel>thought\nhmm, still thinking", "", "hmm, still thinking", "", "repaired" },
        { $"<|channel>thought\nweather<|tool_call>call:get_weather{{city:{Q}Oslo{Q}}}<tool_call|>", "", "weather", "get_weather={\"city\":\"Oslo\"}", "repaired" },
        { "Done.<tool_call|>", "Done.", "", "", "repaired" },
        { "Answer.<turn|>junk after the turn", "Answer.", "", "", "repaired" },
        // Not repairable: reported, never turned into a wrong call.
        { "<|tool_call>call:get_weather<tool_call|>After.", "After.", "", "", "unrepaired" },
        { "<|tool_call>call:bad name!{x:1}<tool_call|>", "", "", "", "unrepaired" },
        { "<|tool_call>call:f{a:}<tool_call|>", "", "", "f={\"a\":null}", "unrepaired" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parses_one_shot_and_streaming_alike(string input, string content, string reasoning, string calls, string diagnostics)
    {
        var parser = new Gemma4ToolCallParser();
        var result = parser.Parse(input);

        Assert.Equal(content, result.Content);
        Assert.Equal(reasoning, result.Reasoning);
        var expectedCalls = calls.Length == 0 ? [] : calls.Split(" | ");
        Assert.Equal(expectedCalls.Length, result.ToolCalls.Count);
        for (var i = 0; i < expectedCalls.Length; i++)
        {
            var eq = expectedCalls[i].IndexOf('=', StringComparison.Ordinal);
            Assert.Equal(expectedCalls[i][..eq], result.ToolCalls[i].Name);
            ToolCallAssert.SameArguments(expectedCalls[i][(eq + 1)..], result.ToolCalls[i].ArgumentsJson);
        }

        switch (diagnostics)
        {
            case "":
                Assert.Empty(result.Diagnostics);
                break;
            case "repaired":
                Assert.NotEmpty(result.Diagnostics);
                Assert.All(result.Diagnostics, d => Assert.True(d.Repaired, d.Message));
                break;
            default:
                Assert.Contains(result.Diagnostics, d => !d.Repaired);
                break;
        }

        Assert.All(result.Diagnostics, d => Assert.InRange(d.Offset, 0, input.Length));
        ToolCallAssert.StreamingMatchesOneShot(parser, input);
    }

    [Fact]
    public void Streams_text_and_argument_fragments_before_the_call_ends()
    {
        var stream = new Gemma4ToolCallParser().CreateStream();
        var events = new List<ToolCallEvent>();

        stream.Push("Checking <|chan", events);
        Assert.Equal([new ToolCallEvent(ToolCallEventKind.Text, 0, "Checking ")], events);

        events.Clear();
        stream.Push("nel>thought\nuser wants Paris<channel|><|tool_call>call:get_weather{city:<|\"|>Par", events);
        Assert.Equal(
        [
            new ToolCallEvent(ToolCallEventKind.Reasoning, 0, "user wants Paris"),
            new ToolCallEvent(ToolCallEventKind.ToolCallStart, 0, "get_weather"),
            new ToolCallEvent(ToolCallEventKind.ToolCallArguments, 0, "{\"city\":\"Par"),
        ], events);

        events.Clear();
        stream.Push("is<|\"|>}<tool_call|>", events);
        Assert.Equal(
        [
            new ToolCallEvent(ToolCallEventKind.ToolCallArguments, 0, "is\"}"),
            new ToolCallEvent(ToolCallEventKind.ToolCallEnd, 0, ""),
        ], events);
        Assert.Empty(stream.Diagnostics);
    }

    [Fact]
    public void Diagnostics_name_the_offset_of_the_problem()
    {
        const string text = "<|tool_call>call:f{a:1}";
        var result = new Gemma4ToolCallParser().Parse(text);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(text.Length, diagnostic.Offset);
        Assert.Contains("<tool_call|>", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_after_a_prompt_that_opened_the_thought_channel_starts_as_reasoning()
    {
        var template = new Edgewise.Text.Chat.ChatTemplate(File.ReadAllText(Edgewise.Text.Tests.Templates.SharedData.DataPath("templates/google-gemma-4-E2B-it.jinja")));
        var prompt = template.Render(
            [
                Edgewise.Text.Chat.ChatMessage.User("Weather in Paris?"),
                Edgewise.Text.Chat.ChatMessage.Assistant(null, new Edgewise.Text.Chat.ToolCall("c1", "get_weather", "{\"city\":\"Paris\"}")),
                Edgewise.Text.Chat.ChatMessage.ToolResult("c1", "sunny"),
            ],
            enableThinking: true);
        Assert.EndsWith("<|channel>thought\n", prompt, StringComparison.Ordinal);

        var parser = new Gemma4ToolCallParser();
        var stream = parser.CreateStream(prompt);
        var events = new List<ToolCallEvent>();
        stream.Push("It is sunny.<channel|>Sunny in Paris.", events);
        stream.Complete(events);
        var result = ToolCallEvents.Aggregate(events, stream.Diagnostics);
        Assert.Equal("It is sunny.", result.Reasoning);
        Assert.Equal("Sunny in Paris.", result.Content);

        // A closed (empty) channel at the end of the prompt, as the 31B template writes, starts as content.
        Assert.False(Gemma4ToolCallParser.PromptEndsInThoughtChannel("<|turn>model\n<|channel>thought\n<channel|>"));
        Assert.False(Gemma4ToolCallParser.PromptEndsInThoughtChannel("<|channel>thought\nold<channel|>x<turn|>\n<|turn>model\n"));
        Assert.Equal("Hi", Push(parser.CreateStream("<|turn>model\n"), "Hi").Content);
    }

    [Fact]
    public void Argument_strings_escape_controls_the_same_way_streamed_and_whole()
    {
        // Quoted values are escaped while they stream; the exact spelling (\u0008, not \b) is part of the output.
        var parser = new Gemma4ToolCallParser();
        string text = $"<|tool_call>call:f{{t:{Q}a\tb\bc\u0001\"\\{Q}}}<tool_call|>";
        ParsedOutput whole = parser.Parse(text);
        Assert.Equal("{\"t\":\"a\\tb\\u0008c\\u0001\\\"\\\\\"}", Assert.Single(whole.ToolCalls).ArgumentsJson);
        ToolCallAssert.StreamingMatchesOneShot(parser, text);
    }

    private static ParsedOutput Push(IToolCallStream stream, string text)
    {
        var events = new List<ToolCallEvent>();
        stream.Push(text, events);
        stream.Complete(events);
        return ToolCallEvents.Aggregate(events, stream.Diagnostics);
    }
}
