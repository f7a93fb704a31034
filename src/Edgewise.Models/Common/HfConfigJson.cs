using System.Text.Json;

namespace Edgewise.Models.Common;

/// <summary>Typed reads of HF <c>config.json</c> fields that every config parser needs, with errors naming file and key.</summary>
internal static class HfConfigJson
{
    public static int Int(JsonElement e, string key, string source) =>
        OptInt(e, key) ?? throw ModelErrors.Field(source, key, "an integer", "nothing");

    public static int? OptInt(JsonElement e, string key) =>
        e.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;

    public static float? OptFloat(JsonElement e, string key) =>
        e.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : null;

    public static bool? OptBool(JsonElement e, string key) =>
        e.TryGetProperty(key, out JsonElement v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
}
