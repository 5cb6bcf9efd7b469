/**
 * Validates Kubernetes objects against the API's OpenAPI schemas, as compiled
 * by `kubernetes-models` (4.5.x: Kubernetes v1.33.0). Strict, like
 * `kubectl apply --validate=strict`: the schemas allow unknown fields, so a
 * typo (`readinesProbe`) would pass them silently; here every field the
 * schema's validator never looked at is reported as unknown.
 */

export interface Problems {
  /** Schema errors (types, required fields, enums, formats). */
  errors: string[];
  /** Fields the schema does not define, as JSON paths. */
  unknown: string[];
}

type Validatable = { prototype: { validate(this: unknown): void } };

/** `apps/v1` + `Deployment` → the model class, or null when the models have none. */
export async function modelFor(apiVersion: string, kind: string): Promise<Validatable | null> {
  // The core group is `v1` in both the apiVersion and the package's paths.
  try {
    const specifier = `kubernetes-models/${apiVersion}/${kind}`;
    const mod = (await import(/* @vite-ignore */ specifier)) as Record<string, Validatable>;
    return mod[kind] ?? null;
  } catch {
    return null;
  }
}

export async function validateObject(obj: Record<string, unknown>): Promise<Problems> {
  const model = await modelFor(String(obj.apiVersion), String(obj.kind));
  if (!model) return { errors: [`no schema for ${String(obj.apiVersion)} ${String(obj.kind)}`], unknown: [] };

  // Record every property the compiled validator reads. It reads each
  // property its schema declares, and iterates maps (labels, resources)
  // whole, so a key never read is one the schema does not know.
  const read = new WeakMap<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const wrap = (target: object): object => {
    let proxy = proxies.get(target);
    if (!proxy) {
      proxy = new Proxy(target, {
        get(t, key, receiver) {
          if (typeof key === 'string') {
            let keys = read.get(t);
            if (!keys) read.set(t, (keys = new Set()));
            keys.add(key);
          }
          const value: unknown = Reflect.get(t, key, receiver);
          return value !== null && typeof value === 'object' ? wrap(value) : value;
        },
      });
      proxies.set(target, proxy);
    }
    return proxy;
  };

  const errors: string[] = [];
  try {
    model.prototype.validate.call(wrap(obj));
  } catch (err) {
    errors.push((err as Error).message);
  }

  const unknown: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, `${path}[${i}]`));
    if (value === null || typeof value !== 'object') return;
    const seen = read.get(value) ?? new Set<string>();
    for (const [key, child] of Object.entries(value)) {
      if (!seen.has(key)) unknown.push(`${path}.${key}`);
      else walk(child, `${path}.${key}`);
    }
  };
  // Only worth reporting on a valid object: a failing validator stops early.
  if (errors.length === 0) walk(obj, '$');
  return { errors, unknown };
}
