using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Gemma4;

namespace Edgewise.Models;

/// <summary>
/// The registry of architectures: a plain switch on the file's own name for its architecture
/// (GGUF <c>general.architecture</c>, HF <c>config.json</c> <c>model_type</c>). Add a case per architecture.
/// </summary>
public static class Architectures
{
    /// <summary>Loads a GGUF file, or a safetensors checkpoint (a directory with config.json, or a .safetensors file beside one).</summary>
    public static ILanguageModel Load(string path, ModelLoadOptions? options = null)
    {
        options ??= ModelLoadOptions.Default;
        if (Directory.Exists(path) || path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            return LoadSafetensors(path, options);
        }
        GgufFile file = GgufFile.Open(path);
        try
        {
            string arch = file.GetStringOrDefault("general.architecture") ?? "";
            return arch switch
            {
                Gemma4Config.ArchitectureName => Gemma4Model.Load(file, options),
                Gemma3nConfig.ArchitectureName => Gemma3nModel.Load(file, options),
                _ => throw ModelErrors.Field(path, "general.architecture", "one of: gemma4, gemma3n", arch.Length == 0 ? "nothing" : arch),
            };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static ILanguageModel LoadSafetensors(string path, ModelLoadOptions options)
    {
        string dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        string configPath = Path.Combine(dir, "config.json");
        if (!File.Exists(configPath))
        {
            throw ModelErrors.Field(path, "config.json", "a config.json next to the safetensors files", "none");
        }
        using JsonDocument config = JsonDocument.Parse(File.ReadAllBytes(configPath));
        string modelType = config.RootElement.TryGetProperty("model_type", out JsonElement mt) ? mt.GetString() ?? "" : "";
        return modelType switch
        {
            "gemma4" or "gemma4_text" => Gemma4Model.LoadSafetensors(path, config, options),
            "gemma3n" or "gemma3n_text" => Gemma3nModel.LoadSafetensors(path, config, options),
            _ => throw ModelErrors.Field(configPath, "model_type", "one of: gemma4, gemma4_text, gemma3n, gemma3n_text", modelType.Length == 0 ? "nothing" : modelType),
        };
    }
}
