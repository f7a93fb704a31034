using Edgewise.Core.Formats;

namespace Edgewise.Models.Common;

/// <summary>Builds Core's <see cref="ModelFormatException"/> for a model-level field: file, key or tensor, expected vs found.</summary>
internal static class ModelErrors
{
    public static ModelFormatException Field(string file, string field, string expected, string found) =>
        new(file, -1, $"'{field}': expected {expected}, found {found}.");
}
