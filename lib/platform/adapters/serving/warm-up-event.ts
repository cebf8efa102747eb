/**
 * The internal event the serving function answers with a warm-up (`{ "aegisWarmUp": WarmUpRequest }`):
 * the LambdaWarmer sends it, the serving handler recognises it (an API Gateway event has an
 * `httpMethod`, this one never does). A module of its own, so the serving bundle carries no invoke client.
 */
export const WARM_UP_EVENT_FIELD = 'aegisWarmUp';
