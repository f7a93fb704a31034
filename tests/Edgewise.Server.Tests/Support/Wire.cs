using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Edgewise.Server.Tests.Support;

/// <summary>Raw HTTP helpers for asserting the exact wire format.</summary>
public static class Wire
{
    public static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string body, string contentType = "application/json")
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return client.PostAsync(path, content);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>SSE events as (event name or null, data) in order; the <c>[DONE]</c> sentinel is kept as raw data.</summary>
    public static async Task<List<(string? Event, string Data)>> SseAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        var events = new List<(string?, string)>();
        foreach (var block in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null;
            string? data = null;
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                    name = line[7..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                    data = line[6..];
                else
                    throw new FormatException($"Unexpected SSE line: '{line}'");
            }

            events.Add((name, data ?? throw new FormatException($"SSE block without data: '{block}'")));
        }

        return events;
    }

    public static List<JsonElement> Parse(IEnumerable<string> lines) =>
        [.. lines.Select(l => { using var d = JsonDocument.Parse(l); return d.RootElement.Clone(); })];
}
