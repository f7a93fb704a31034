using System.Text.Json.Nodes;
using Edgewise.Text.ToolCalls;
using Xunit;

namespace Edgewise.Text.Tests.ToolCalls;

internal static class ToolCallAssert
{
    /// <summary>Arguments must be valid JSON and equal (as JSON) to the expected object text.</summary>
    public static void SameArguments(string expectedJson, string actualJson)
    {
        var expected = JsonNode.Parse(expectedJson);
        JsonNode? actual;
        try
        {
            actual = JsonNode.Parse(actualJson);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"arguments are not valid JSON: {actualJson} ({e.Message})");
        }

        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected {expectedJson}, got {actualJson}");
    }

    /// <summary>Feeding the text in two pieces at every split point, and one character at a time, gives the one-shot result.</summary>
    public static void StreamingMatchesOneShot(IToolCallParser parser, string text)
    {
        var whole = parser.Parse(text);
        for (var split = 0; split <= text.Length; split++)
        {
            var stream = parser.CreateStream();
            var events = new List<ToolCallEvent>();
            stream.Push(text[..split], events);
            stream.Push(text[split..], events);
            stream.Complete(events);
            AssertSame(whole, ToolCallEvents.Aggregate(events, stream.Diagnostics), $"split at {split}");
        }

        var charStream = parser.CreateStream();
        var charEvents = new List<ToolCallEvent>();
        foreach (var c in text) charStream.Push(c.ToString(), charEvents);
        charStream.Complete(charEvents);
        AssertSame(whole, ToolCallEvents.Aggregate(charEvents, charStream.Diagnostics), "one character at a time");
        AssertWellFormed(charEvents);
    }

    private static void AssertSame(ParsedOutput expected, ParsedOutput actual, string how)
    {
        Assert.True(expected.Content == actual.Content, $"{how}: content '{actual.Content}' != '{expected.Content}'");
        Assert.True(expected.Reasoning == actual.Reasoning, $"{how}: reasoning '{actual.Reasoning}' != '{expected.Reasoning}'");
        Assert.True(expected.ToolCalls.SequenceEqual(actual.ToolCalls), $"{how}: calls differ");
        Assert.True(expected.Diagnostics.SequenceEqual(actual.Diagnostics), $"{how}: diagnostics differ: {string.Join("; ", actual.Diagnostics)}");
    }

    /// <summary>Start, then argument fragments, then End, per call, in call-index order.</summary>
    private static void AssertWellFormed(List<ToolCallEvent> events)
    {
        var open = -1;
        var next = 0;
        foreach (var e in events)
        {
            switch (e.Kind)
            {
                case ToolCallEventKind.ToolCallStart:
                    Assert.Equal(-1, open);
                    Assert.Equal(next, e.CallIndex);
                    open = e.CallIndex;
                    next++;
                    break;
                case ToolCallEventKind.ToolCallArguments:
                    Assert.Equal(open, e.CallIndex);
                    break;
                case ToolCallEventKind.ToolCallEnd:
                    Assert.Equal(open, e.CallIndex);
                    open = -1;
                    break;
            }
        }

        Assert.Equal(-1, open);
    }
}
