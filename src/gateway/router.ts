import { noProvider } from "../errors.ts";
import { MOCK_MODELS } from "../providers/mock.ts";
import type { Provider } from "../providers/provider.ts";
import type { Providers } from "../providers/registry.ts";

/**
 * Model → provider. The mock's own model names go to the mock; everything else goes upstream,
 * whose answer (a 404 `model_not_found` included) is the truth about a name. With no upstream the
 * mock, when on, answers every name.
 */
export class Router {
  readonly all: Provider[];

  constructor(private readonly providers: Providers) {
    this.all = [providers.upstream, providers.mock].filter((p): p is Provider => p !== undefined);
  }

  resolve(model: string): Provider {
    const { mock, upstream } = this.providers;
    if (mock && MOCK_MODELS.includes(model)) return mock;
    if (upstream) return upstream;
    if (mock?.servesAnyModel()) return mock;
    throw noProvider();
  }
}
