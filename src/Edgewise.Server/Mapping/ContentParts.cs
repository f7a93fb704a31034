using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Http;

namespace Edgewise.Server.Mapping;

/// <summary>Message content: a string, or an array of parts (<c>text</c>/<c>input_text</c>/<c>output_text</c>, <c>image_url</c>, <c>input_audio</c>).</summary>
internal static class ContentParts
{
    public static List<ContentPart> Parse(JsonElement? content, string param, bool allowMissing)
    {
        if (content is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            if (!allowMissing)
                throw ApiException.Missing(param);
            return [];
        }

        if (element.ValueKind == JsonValueKind.String)
            return [ContentPart.FromText(element.GetString()!)];
        if (element.ValueKind != JsonValueKind.Array)
            throw ApiException.WrongType(param, "a string or an array of content parts");

        var parts = new List<ContentPart>();
        var i = 0;
        foreach (var part in element.EnumerateArray())
        {
            var at = $"{param}[{i++}]";
            if (part.ValueKind == JsonValueKind.String)
            {
                parts.Add(ContentPart.FromText(part.GetString()!));
                continue;
            }

            if (part.ValueKind != JsonValueKind.Object)
                throw ApiException.WrongType(at, "a content part object");
            if (!part.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
                throw ApiException.Missing($"{at}.type");
            var type = typeElement.GetString();
            switch (type)
            {
                case "text" or "input_text" or "output_text":
                    parts.Add(ContentPart.FromText(RequiredString(part, "text", at)));
                    break;
                case "image_url":
                    // {"type":"image_url","image_url":{"url":...}} or the bare-string variant.
                    var url = part.TryGetProperty("image_url", out var image) && image.ValueKind == JsonValueKind.Object
                        ? RequiredString(image, "url", $"{at}.image_url")
                        : RequiredString(part, "image_url", at);
                    parts.Add(new ContentPart(ContentPartKind.Image, Url: url));
                    break;
                case "input_image":
                    parts.Add(new ContentPart(ContentPartKind.Image, Url: RequiredString(part, "image_url", at)));
                    break;
                case "input_audio":
                    if (!part.TryGetProperty("input_audio", out var audio) || audio.ValueKind != JsonValueKind.Object)
                        throw ApiException.Missing($"{at}.input_audio");
                    var data = RequiredString(audio, "data", $"{at}.input_audio");
                    var format = RequiredString(audio, "format", $"{at}.input_audio");
                    parts.Add(new ContentPart(ContentPartKind.Audio, Url: $"data:audio/{format};base64,{data}"));
                    break;
                case "refusal":
                    break;
                default:
                    throw ApiException.OutOfRange($"{at}.type", "'text', 'image_url' or 'input_audio'", $"'{type}'");
            }
        }

        return parts;
    }

    private static string RequiredString(JsonElement obj, string property, string param)
    {
        if (!obj.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null)
            throw ApiException.Missing($"{param}.{property}");
        if (value.ValueKind != JsonValueKind.String)
            throw ApiException.WrongType($"{param}.{property}", "a string");
        return value.GetString()!;
    }
}
