using System.CommandLine;
using LiteVL.Model.Config;
using LiteVL.Model.Runtime;
using Microsoft.Extensions.Logging;

namespace LiteVL.Cli.Commands;

/// <summary>Options shared by several commands.</summary>
internal static class CliOptions
{
    public static Option<string> ModelDir() => new("--model", "-m")
    {
        Description = "Model directory (config.json, weights.safetensors, vocab.txt, graphs).",
        Required = true,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "Execution provider: cpu or cuda (falls back to cpu with a warning when CUDA cannot load).",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<bool> Fp16(string description) => new("--fp16") { Description = description };

    public static Option<string> Preset(bool required) => new Option<string>("--preset")
    {
        Description = $"Architecture: {string.Join(", ", Presets.Names)}.",
        Required = required,
    }.AcceptOnlyFromAmong([.. Presets.Names]);

    public static RuntimeOptions Runtime(string device, bool fp16) => new()
    {
        Device = RuntimeOptions.ParseDevice(device),
        Precision = fp16 ? Model.Graphs.Precision.Fp16 : Model.Graphs.Precision.Fp32,
    };

    public static ILoggerFactory Logging() => LoggerFactory.Create(b => b
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.IncludeScopes = false;
        })
        .SetMinimumLevel(LogLevel.Warning));
}
