using System.Diagnostics;
using System.Text.Json;
using Edgewise.Text.Chat;
using Edgewise.Text.ToolCalls;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Text.Tests.Templates;

/// <summary>Rendering and parsing run per request and per token; they must stay far below model step times.</summary>
public sealed class RenderTimingTests(ITestOutputHelper output)
{
    [Fact]
    public void Parse_render_and_stream_parse_are_cheap()
    {
        var source = File.ReadAllText(SharedData.DataPath("templates/google-gemma-4-E2B-it.jinja"));
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.TestDataPath("templates/conversations.json")));
        var conversation = doc.RootElement.GetProperty("conversations").EnumerateArray().First(c => c.GetProperty("name").GetString() == "tool_call_with_response_then_answer");
        var messages = ChatJson.ParseMessages(conversation.GetProperty("messages"));
        var tools = conversation.GetProperty("tools").EnumerateArray().Select(ToolDefinition.FromOpenAiJson).ToList();

        var parse = Stopwatch.StartNew();
        const int parses = 20;
        ChatTemplate? template = null;
        for (var i = 0; i < parses; i++) template = new ChatTemplate(source);
        parse.Stop();

        var prompt = template!.Render(messages, tools);
        var render = Stopwatch.StartNew();
        const int renders = 200;
        for (var i = 0; i < renders; i++) prompt = template.Render(messages, tools);
        render.Stop();

        // A long answer with thinking and two calls, streamed one character at a time (worse than per token).
        var text = "<|channel>thought\n" + new string('x', 2000) + "<channel|>"
            + "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:[1,2,3],opts:{metric:true}}<tool_call|>"
            + "<|tool_call>call:get_weather{city:<|\"|>Zürich<|\"|>}<tool_call|>";
        var stream = Stopwatch.StartNew();
        const int streams = 20;
        var events = new List<ToolCallEvent>();
        for (var r = 0; r < streams; r++)
        {
            var s = new Gemma4ToolCallParser().CreateStream();
            events.Clear();
            foreach (var c in text) s.Push(c.ToString(), events);
            s.Complete(events);
        }

        stream.Stop();

        var parseMs = parse.Elapsed.TotalMilliseconds / parses;
        var renderMs = render.Elapsed.TotalMilliseconds / renders;
        var perCharUs = stream.Elapsed.TotalMilliseconds * 1000 / (streams * text.Length);
        output.WriteLine($"template parse {parseMs:F2} ms, render {renderMs:F3} ms ({prompt.Length} chars), stream parse {perCharUs:F2} us/char");
        Assert.InRange(parseMs, 0, 200);
        Assert.InRange(renderMs, 0, 50);
        Assert.InRange(perCharUs, 0, 100);
    }
}
