using System.Text.Json.Serialization;

namespace Jumpgate.Cli.Commands;

/// <summary>JSON for the gateway admin commands' --json output.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(List<RuleView>))]
[JsonSerializable(typeof(List<TokenView>))]
internal sealed partial class AdminJson : JsonSerializerContext;
